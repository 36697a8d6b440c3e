/**
 * gRPC face of a MetaApi (normally the in-process MetaService over the durable journal).
 *
 * Per call (a single rpc, or each call inside a Batch — batch.ts): refuse a call whose deadline
 * already passed (the client has given up; for a mutation the retry will carry the same
 * requestId anyway), validate the message with zod
 * (INVALID_ARGUMENT/EINVAL naming the field), lift the call context out of the metadata
 * (bearer token, session id) and hand both to the API, which does the access check. Errors
 * come back as status + `x-meta-error` trailer (errors.ts).
 *
 * Shutdown drains: no new calls are taken (clients see UNAVAILABLE and retry against the
 * next instance) while the ones in flight finish, bounded by a grace period.
 */
import type { EventEmitter } from "node:events";
import type { Http2Session } from "node:http2";
import * as grpc from "@grpc/grpc-js";
import type { CallContext, MetaApi, ReaddirplusResponse } from "../api.js";
import { MetaError } from "../errors.js";
import {
  BATCH_RPC,
  decodeCall,
  encodeError,
  encodeResponse,
  MAX_BATCH_CALLS,
  type WireBatchCall,
  type WireBatchResult,
} from "./batch.js";
import { toServiceError } from "./errors.js";
import { packEntries } from "./packed-entries.js";
import {
  AUTH_HEADER,
  META_METHODS,
  type MetaMethod,
  metaServiceConstructor,
  RPC_NAMES,
  SESSION_HEADER,
} from "./proto.js";
import { describeIssues, REQUEST_SCHEMAS } from "./schemas.js";

/** Large enough for a readdirplus page or a chunk-reference listing of a big filespace. */
export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

export interface TlsFiles {
  /** PEM certificate chain. */
  cert: Buffer;
  /** PEM private key. */
  key: Buffer;
}

export interface MetaGrpcServerOptions {
  api: MetaApi;
  /** "host:port"; port 0 picks a free one (see `address`). */
  listen: string;
  tls?: TlsFiles;
  /** Server keepalive ping period; a dead client connection is noticed after period + 10 s. Default 30 s. */
  keepaliveMs?: number;
  /** HTTP/2 receive window per connection and stream (bytes client → server in flight). Default 32 MiB. */
  receiveWindowBytes?: number;
  /** Observer for every finished call (metrics, logs). `code` is the gRPC status name. */
  onCall?: (method: MetaMethod, code: string, seconds: number) => void;
}

export class MetaGrpcServer {
  readonly #server: grpc.Server;
  readonly #onCall: MetaGrpcServerOptions["onCall"];
  #address = "";
  #inFlight = 0;

  private constructor(server: grpc.Server, onCall: MetaGrpcServerOptions["onCall"]) {
    this.#server = server;
    this.#onCall = onCall;
  }

  /** "host:port" actually bound. */
  get address(): string {
    return this.#address;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  static async start(options: MetaGrpcServerOptions): Promise<MetaGrpcServer> {
    const keepaliveMs = options.keepaliveMs ?? 30_000;
    const server = new grpc.Server({
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
      "grpc.keepalive_time_ms": keepaliveMs,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
    });
    const self = new MetaGrpcServer(server, options.onCall);
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of META_METHODS) handlers[RPC_NAMES[method]] = self.#handler(options.api, method);
    handlers[BATCH_RPC] = self.#batchHandler(options.api) as grpc.handleUnaryCall<unknown, unknown>;
    server.addService(metaServiceConstructor().service, handlers);

    const credentials = options.tls
      ? grpc.ServerCredentials.createSsl(null, [{ private_key: options.tls.key, cert_chain: options.tls.cert }], false)
      : grpc.ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(options.listen, credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    const host = options.listen.slice(0, options.listen.lastIndexOf(":"));
    self.#address = `${host}:${port}`;
    widenReceiveWindow(server, options.receiveWindowBytes ?? RECEIVE_WINDOW_BYTES);
    return self;
  }

  #handler(api: MetaApi, method: MetaMethod): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      if (deadlinePassed(call)) {
        this.#onCall?.(method, "DEADLINE_EXCEEDED", 0);
        callback({
          code: grpc.status.DEADLINE_EXCEEDED,
          details: `${method}: deadline passed before the call started`,
        });
        return;
      }
      this.#run(api, method, contextFrom(call.metadata), call.request).then(
        (response) => callback(null, response),
        (err: unknown) => callback(toServiceError(err)),
      );
    };
  }

  /** Batch: every call starts now (in order, so concurrent mutations join one journal commit). */
  #batchHandler(api: MetaApi): grpc.handleUnaryCall<{ calls?: WireBatchCall[] }, unknown> {
    return (call, callback) => {
      const calls = call.request?.calls ?? [];
      if (deadlinePassed(call)) {
        callback({ code: grpc.status.DEADLINE_EXCEEDED, details: "batch: deadline passed before the call started" });
        return;
      }
      if (calls.length > MAX_BATCH_CALLS) {
        const err = new MetaError(
          "EINVAL",
          `batch: calls must hold at most ${MAX_BATCH_CALLS} calls, got ${calls.length}`,
        );
        callback(toServiceError(err));
        return;
      }
      const ctx = contextFrom(call.metadata);
      const results = calls.map((wire): Promise<WireBatchResult> => {
        let decoded: { method: MetaMethod; request: unknown };
        try {
          decoded = decodeCall(wire);
        } catch (err) {
          return Promise.resolve(encodeError(err));
        }
        return this.#run(api, decoded.method, ctx, decoded.request).then(
          (response) => encodeResponse(decoded.method, response),
          encodeError,
        );
      });
      Promise.all(results).then(
        (r) => callback(null, { results: r }),
        (err: unknown) => callback(toServiceError(err)),
      );
    };
  }

  /** One call: validate (zod, EINVAL naming the field), invoke the API, account for it. */
  #run(api: MetaApi, method: MetaMethod, ctx: CallContext, request: unknown): Promise<unknown> {
    const started = performance.now();
    this.#inFlight++;
    let pending: Promise<unknown>;
    const parsed = REQUEST_SCHEMAS[method].safeParse(request ?? {});
    if (!parsed.success) {
      pending = Promise.reject(new MetaError("EINVAL", `${method}: ${describeIssues(parsed.error)}`));
    } else {
      try {
        const invoke = api[method] as (ctx: CallContext, req: unknown) => Promise<unknown>;
        pending = invoke.call(api, ctx, parsed.data);
      } catch (err) {
        pending = Promise.reject(err);
      }
    }
    if (method === "readdirplus" && (request as { packed?: boolean } | undefined)?.packed)
      pending = pending.then((res) => packPage(res as ReaddirplusResponse));
    return pending.then(
      (response) => {
        this.#inFlight--;
        this.#onCall?.(method, "OK", (performance.now() - started) / 1000);
        return response ?? {};
      },
      (err: unknown) => {
        this.#inFlight--;
        const code = toServiceError(err).code ?? grpc.status.UNKNOWN;
        this.#onCall?.(method, grpc.status[code] ?? "UNKNOWN", (performance.now() - started) / 1000);
        throw err;
      },
    );
  }

  /**
   * Stop taking calls, let those in flight finish (up to `graceMs`), then close every
   * connection. Resolves when the port is free.
   */
  async drain(graceMs = 10_000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Immediate stop: in-flight calls fail with UNAVAILABLE/CANCELLED. */
  close(): void {
    this.#server.forceShutdown();
  }
}

const RECEIVE_WINDOW_BYTES = 32 * 1024 * 1024;

/** A readdirplus page in the packed wire form (the client asked for it). */
function packPage(res: ReaddirplusResponse): { entries: never[]; packed: Buffer; cookie?: string } {
  const packed = packEntries(res.entries);
  return res.cookie === undefined ? { entries: [], packed } : { entries: [], packed, cookie: res.cookie };
}

/**
 * HTTP/2 grants a peer 64 KiB in flight per connection and stream until it is told otherwise,
 * so a request bigger than that (a Batch of commits with their extents) crawls in at 64 KiB per
 * round trip over a WAN. grpc-js has a client option for its receive window but none for the
 * server: widen it on every new session. (Reaches into grpc-js's `http2Servers`; without it
 * nothing breaks, requests are only slower.)
 */
function widenReceiveWindow(server: grpc.Server, bytes: number): void {
  const http2Servers = (server as unknown as { http2Servers?: Map<EventEmitter, unknown> }).http2Servers;
  for (const h2 of http2Servers?.keys() ?? []) {
    h2.on("session", (session: Http2Session) => {
      try {
        session.settings({ initialWindowSize: Math.min(bytes, 2 ** 31 - 1) });
        session.setLocalWindowSize(bytes);
      } catch {
        // a session closing as it opens: nothing to widen
      }
    });
  }
}

const BEARER = /^Bearer\s+(.+)$/i;

/** The client has given up already (for a mutation its retry carries the same requestId anyway). */
function deadlinePassed(call: grpc.ServerUnaryCall<unknown, unknown>): boolean {
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  return call.cancelled || (Number.isFinite(deadlineMs) && deadlineMs <= Date.now());
}

function contextFrom(metadata: grpc.Metadata): CallContext {
  const auth = metadata.get(AUTH_HEADER)[0];
  const match = typeof auth === "string" ? BEARER.exec(auth) : null;
  const ctx: CallContext = { token: match?.[1]?.trim() ?? "" };
  const session = metadata.get(SESSION_HEADER)[0];
  if (typeof session === "string" && session.length > 0) ctx.sessionId = session;
  return ctx;
}
