/**
 * One keep-alive HTTP/1.1 connection that answers ranged GETs with the body read by the kernel
 * straight into the caller's buffer.
 *
 * Why: node's http client reads every socket chunk into a fresh 64 KiB allocation, and the body
 * is then copied into our pooled buffer. On small VMs touching fresh memory costs ~6 ms CPU per
 * MiB (page faults), a reused buffer ~0.05. `net.connect({ onread: { buffer, callback } })` lets
 * the socket read into a buffer we choose for every read: while a body is claimed by `readInto`,
 * that buffer is the unfilled part of the caller's buffer, so body bytes land in place, once.
 *
 * What it accepts: a 1xx-free response with Content-Length (the body is exactly that long).
 * What it refuses: Transfer-Encoding on a 2xx, a 2xx without Content-Length, a body longer than
 * announced (a protocol error), a socket closed before the last byte (ECONNRESET: never a short
 * body presented as whole). Non-2xx answers (404, 416, 5xx...) are read whole (at most
 * MAX_ERROR_BODY, chunked allowed: range-get-error-body.ts) and handed to the SDK, which parses
 * them as it always did.
 *
 * Bounds: headers ≤ 64 KiB; body bytes that arrive before anyone claims the body are held aside
 * (range-get-early-body.ts: in a lent scratch buffer, not copied), and reading pauses above
 * MAX_PENDING until the body is claimed; while a request is out the socket times out after
 * `requestTimeoutMs` without traffic.
 */
import type net from "node:net";
import { Readable } from "node:stream";
import { RangeBody } from "./range-get-body.js";
import { EarlyBody, SCRATCH } from "./range-get-early-body.js";
import { ErrorBodyReader } from "./range-get-error-body.js";
import { abortError, RangeGetError, RangeGetRefusedError } from "./range-get-errors.js";
import { parseResponseHead, type ResponseHead } from "./range-get-head.js";
import { openRangeSocket, readyEventOf } from "./range-get-socket.js";
import type { BodyTarget, Endpoint, IntoBuffer, RangeResponse } from "./range-get-types.js";

const MAX_PENDING = 256 * 1024;
const EMPTY = Buffer.alloc(0);

type Mode = "idle" | "head" | "pending" | "into" | "stream" | "error-body" | "dead";

export class RangeConnection {
  readonly socket: net.Socket;
  /** Bytes of the current response received so far (head included). */
  received = 0;
  /** True once a request went out on this connection (a reused one may have been closed meanwhile). */
  used = false;
  private mode: Mode = "idle";
  private established = false;
  /** Body bytes that arrive before the body is claimed, and the scratch the socket reads into. */
  private early = new EarlyBody();
  /** The view of the caller's buffer handed to the socket for its next read (if any). */
  private lastView?: Buffer;
  private head: Buffer = EMPTY;
  private response?: ResponseHead;
  private remaining = 0;
  private keepAlive = true;
  private paused = false;
  private body?: RangeBody;
  private errorBody?: ErrorBodyReader;
  private target?: BodyTarget;
  /** The buffer the current request's 2xx body goes into, named with the request. */
  private into?: IntoBuffer;
  private exchange?: {
    resolve: (r: RangeResponse) => void;
    reject: (e: Error) => void;
    signal?: AbortSignal;
    onAbort: () => void;
  };

  constructor(
    endpoint: Endpoint,
    private readonly requestTimeoutMs: number,
    private readonly onFree: (conn: RangeConnection) => void,
    private readonly onGone: (conn: RangeConnection) => void,
  ) {
    const onread = { buffer: () => this.nextBuffer(), callback: (n: number, buf: Buffer) => this.onRead(n, buf) };
    this.socket = openRangeSocket(endpoint, onread);
    this.socket.once(this.readyEvent, () => {
      this.established = true;
    });
    this.socket.on("error", (err) => this.fail(err));
    this.socket.on("close", () => this.fail(undefined));
    this.socket.on("timeout", () =>
      this.fail(new RangeGetError(`no traffic for ${this.requestTimeoutMs} ms`, "ETIMEDOUT")),
    );
  }

  /** True until the connection can carry a request (TCP connected, TLS handshake done). */
  get connecting(): boolean {
    return !this.established && this.alive;
  }

  /** The event that says the connection is established. */
  get readyEvent(): "connect" | "secureConnect" {
    return readyEventOf(this.socket);
  }

  get alive(): boolean {
    return this.mode !== "dead" && !this.socket.destroyed;
  }

  /**
   * Sends one request (`head` is the whole request text); resolves when the response head is in.
   * With `into`, a 2xx body that fits is claimed into it the moment its head is parsed (no
   * bytes held aside meanwhile): its `readInto(into)` then only waits for the last byte.
   */
  send(head: string, signal?: AbortSignal, into?: IntoBuffer): Promise<RangeResponse> {
    // Closed between leaving the pool and now: the pool may resend (nothing was answered).
    if (this.mode === "dead")
      return Promise.reject(new RangeGetError("connection closed before the request", "ECONNRESET"));
    if (this.mode !== "idle") throw new Error("RangeConnection: a request is already out");
    return new Promise((resolve, reject) => {
      const onAbort = () => this.fail(abortError(signal!));
      this.exchange = { resolve, reject, signal, onAbort };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.mode = "head";
      this.into = into;
      this.used = true;
      this.received = 0;
      this.head = EMPTY;
      this.socket.ref();
      this.socket.setTimeout(this.requestTimeoutMs);
      this.socket.write(head);
      if (signal?.aborted) onAbort();
    });
  }

  destroy(): void {
    this.fail(undefined);
  }

  /** The body claims its bytes: into `into` (or a fresh buffer), or as a stream. */
  claim(target: BodyTarget | "stream"): void {
    if (this.mode !== "pending") throw new Error("RangeConnection: body already claimed");
    if (target === "stream") {
      this.mode = "stream";
      const body = this.body!;
      this.early.handOver((part) => body.push(part));
    } else {
      this.mode = "into";
      this.target = target;
      target.pos = this.early.copyInto(target.buffer, target.pos);
      if (target.pos > 0) target.onProgress?.(target.pos);
    }
    if (this.remaining === 0) this.finishBody();
    else if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** Where the socket reads next: the caller's buffer while a body is claimed into it. */
  private nextBuffer(): Buffer {
    if (this.mode === "into") {
      const t = this.target!;
      this.lastView = t.buffer.subarray(t.pos, t.end);
      return this.lastView;
    }
    this.lastView = undefined;
    // A stream consumer keeps the chunks it is given, so each read needs its own memory.
    if (this.mode === "stream") return Buffer.allocUnsafe(Math.min(SCRATCH, Math.max(this.remaining, 1)));
    return this.early.scratch;
  }

  private onRead(n: number, buf: Buffer): boolean {
    this.received += n;
    if (this.mode === "into" && buf === this.lastView) {
      // Landed in place; the view ends at Content-Length, so nothing can overrun it.
      const t = this.target!;
      t.pos += n;
      this.remaining -= n;
      t.onProgress?.(t.pos);
      if (this.remaining === 0) this.finishBody();
      return true;
    }
    return this.onBytes(buf.subarray(0, n), buf !== this.early.scratch);
  }

  /** `owned`: the bytes are in memory nobody else reuses (no copy needed to keep them). */
  private onBytes(data: Buffer, owned: boolean): boolean {
    switch (this.mode) {
      case "head":
        return this.onHeadBytes(data, owned);
      case "pending":
      case "into":
      case "stream":
      case "error-body":
        return this.onBodyBytes(data, owned);
      default:
        // Bytes on an idle connection: the server broke the framing; never reuse it.
        this.fail(new RangeGetError("bytes received on an idle connection", "EPROTO"));
        return false;
    }
  }

  private onHeadBytes(data: Buffer, owned: boolean): boolean {
    // Usually the whole head is in one read: parse it in place, no copy.
    const head = this.head.length === 0 ? data : Buffer.concat([this.head, data]);
    const parsed = parseResponseHead(head);
    if (parsed === "incomplete") {
      if (head.length > SCRATCH) this.fail(new RangeGetError("response head over 64 KiB", "EPROTO"));
      else this.head = head === data && !owned ? Buffer.from(data) : head;
      return true;
    }
    if (parsed instanceof Error) {
      this.fail(new RangeGetError(parsed.message, "EPROTO"));
      return false;
    }
    const rest = head.subarray(parsed.headLength);
    const restOwned = head !== data || owned;
    this.head = EMPTY;
    this.response = parsed;
    this.keepAlive = parsed.keepAlive;
    const ok = parsed.statusCode >= 200 && parsed.statusCode < 300;
    if (ok) {
      if (parsed.contentLength === undefined || parsed.chunked) {
        this.fail(new RangeGetRefusedError(`HTTP ${parsed.statusCode} without Content-Length (refused)`, "EPROTO"));
        return false;
      }
      this.remaining = parsed.contentLength;
      this.mode = "pending";
      this.body = new RangeBody(this, parsed.contentLength);
      const into = this.into;
      this.into = undefined;
      if (into && into.buffer.length >= parsed.contentLength) this.body.claimEarly(into.buffer, into.onProgress);
      this.resolveHead(this.body);
    } else {
      this.mode = "error-body";
      // Without length or chunking the body runs to the end of the connection.
      this.remaining = parsed.contentLength ?? Number.POSITIVE_INFINITY;
      this.errorBody = new ErrorBodyReader(parsed.chunked, this.remaining);
      if (parsed.contentLength === undefined && !parsed.chunked) this.keepAlive = false;
    }
    if (rest.length > 0) return this.onBodyBytes(rest, restOwned);
    if (this.mode === "error-body" && this.remaining === 0 && !parsed.chunked) this.endErrorBody(Buffer.alloc(0));
    // A 2xx with an empty body finishes when it is claimed.
    return true;
  }

  private onBodyBytes(data: Buffer, owned: boolean): boolean {
    if (this.mode === "error-body") return this.onErrorBodyBytes(data);
    if (data.length > this.remaining) {
      this.fail(new RangeGetError(`response longer than its Content-Length`, "EPROTO"));
      return false;
    }
    this.remaining -= data.length;
    if (this.mode === "pending") {
      this.early.add(data, owned);
      if (this.remaining === 0) return true; // complete; finishes when claimed
      if (this.early.bytes >= MAX_PENDING) this.paused = true;
      return !this.paused;
    }
    if (this.mode === "stream") this.body!.push(owned ? data : Buffer.from(data));
    else {
      const t = this.target!;
      data.copy(t.buffer, t.pos);
      t.pos += data.length;
      t.onProgress?.(t.pos);
    }
    if (this.remaining === 0) this.finishBody();
    return true;
  }

  private onErrorBodyBytes(data: Buffer): boolean {
    const body = this.errorBody!.add(data);
    if (body === "incomplete") return true;
    if (body instanceof Error) {
      this.fail(body);
      return false;
    }
    this.endErrorBody(body);
    return true;
  }

  private endErrorBody(body: Buffer): void {
    this.errorBody = undefined;
    this.remaining = 0;
    this.resolveHead(Readable.from([body]));
    this.release();
  }

  private resolveHead(body: RangeResponse["body"]): void {
    const r = this.response!;
    this.exchange?.resolve({ statusCode: r.statusCode, reason: r.reason, headers: r.headers, body });
  }

  private finishBody(): void {
    const body = this.body!;
    const t = this.target;
    this.body = undefined;
    this.target = undefined;
    this.release();
    body.finish(t ? t.buffer.subarray(0, t.end) : undefined);
  }

  /** The exchange is over: back to the pool, or closed if the server asked for that. */
  private release(): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    exchange?.signal?.removeEventListener("abort", exchange.onAbort);
    this.response = undefined;
    this.socket.setTimeout(0);
    if (!this.keepAlive) {
      this.mode = "dead";
      this.socket.destroy();
      this.onGone(this);
      return;
    }
    this.mode = "idle";
    this.socket.unref();
    this.onFree(this);
  }

  private fail(err: Error | undefined): void {
    if (this.mode === "dead") return;
    const wasIdle = this.mode === "idle";
    const mode = this.mode;
    this.mode = "dead";
    this.socket.destroy();
    const exchange = this.exchange;
    this.exchange = undefined;
    exchange?.signal?.removeEventListener("abort", exchange.onAbort);
    const reason =
      err ??
      new RangeGetError(
        mode === "head" ? "connection closed before the response" : "connection closed before the end of the body",
        "ECONNRESET",
      );
    if (!wasIdle) {
      if (mode === "head" || mode === "error-body") exchange?.reject(reason);
      else this.body?.fail(reason);
    }
    this.body = undefined;
    this.target = undefined;
    this.onGone(this);
  }
}
