/**
 * Keep-alive connections of the lean range-GET client to one origin (range-get-connection.ts).
 *
 * Bounded like the agent it stands beside (s3.ts): at most `maxSockets` connections; more
 * requests wait in order. Idle connections are reused newest first and do not keep the process
 * alive; one the server closed is dropped the moment its close arrives. The race — the server
 * closes an idle connection just as a request goes out on it — is retried once on a fresh
 * connection, only when no byte of the response had arrived (a GET has no side effects).
 *
 * Idle bound: a connection idle for `idleTimeoutMs` (default 15 s) is closed by us. S3 closes
 * idle connections after ~20 s and some proxies sooner; reusing one the server is closing costs
 * a failed write and the resend above. Closing first, on our side, keeps that race rare. Reuse
 * is newest first, so after a burst the surplus connections age out.
 *
 * `preconnect()` opens a connection ahead of need with warm-agent.ts's bounds: nothing sent on
 * it, at most one, at most one connect per `minIntervalMs`, closed unused after `maxIdleMs`, and
 * nothing when an idle connection is already there. `ensureConnections(n)` is the stream's
 * version: up to n open or opening, for the parallel GETs about to come (types.ts, `connections`).
 */
import { RangeConnection } from "./range-get-connection.js";
import { abortError } from "./range-get-errors.js";
import type { Endpoint, IntoBuffer, RangeResponse } from "./range-get-types.js";
import { WARM_DEFAULTS, type WarmOptions, type WarmStats } from "./warm-agent.js";

/** Default of `idleTimeoutMs`: below S3's ~20 s server-side idle close. */
export const IDLE_TIMEOUT_MS = 15_000;

export interface RangeGetPoolOptions {
  maxSockets?: number;
  /** A connection idle this long (ms) is closed by the client; default 15 s; Infinity: never. */
  idleTimeoutMs?: number;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  warm?: WarmOptions;
}

/** How a connection the server already closed fails a request written to it. */
const GONE_CODES = new Set(["ECONNRESET", "EPIPE"]);

interface Waiter {
  resolve: (conn: RangeConnection) => void;
  reject: (err: Error) => void;
  signal?: AbortSignal;
  onAbort: () => void;
}

export class RangeGetPool {
  readonly warmStats: WarmStats = { opened: 0, used: 0, wasted: 0, skipped: 0 };
  /** Connections opened (tests, stats). */
  connects = 0;
  /** Connections closed by the client after `idleTimeoutMs` idle (tests, stats). */
  idleClosed = 0;
  private readonly idle: RangeConnection[] = [];
  /** The idle-bound timer of each idle connection (the warm one has its own, `maxIdleMs`). */
  private readonly idleTimers = new Map<RangeConnection, NodeJS.Timeout>();
  private readonly all = new Set<RangeConnection>();
  private readonly waiters: Waiter[] = [];
  private warm?: { conn: RangeConnection; timer: NodeJS.Timeout };
  private lastWarmAt = Number.NEGATIVE_INFINITY;
  private closed = false;
  private readonly maxSockets: number;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxIdleMs: number;
  private readonly minIntervalMs: number;

  constructor(
    readonly endpoint: Endpoint,
    options: RangeGetPoolOptions = {},
  ) {
    this.maxSockets = options.maxSockets ?? 50;
    this.idleTimeoutMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.maxIdleMs = options.warm?.maxIdleMs ?? WARM_DEFAULTS.maxIdleMs;
    this.minIntervalMs = options.warm?.minIntervalMs ?? WARM_DEFAULTS.minIntervalMs;
  }

  /** Sends `head` (a whole GET request) and resolves with the response head and its body. */
  /** Sends `head` on a free connection; `into`: see RangeConnection.send. */
  async request(head: string, signal?: AbortSignal, into?: IntoBuffer): Promise<RangeResponse> {
    const conn = await this.acquire(signal);
    const reused = conn.used || this.takeWarm(conn);
    try {
      return await conn.send(head, signal, into);
    } catch (err) {
      // The server closed a kept-alive connection as we used it: nothing was answered, so the
      // request can go again, once, on a connection of its own.
      if (!reused || conn.received > 0 || signal?.aborted || !GONE_CODES.has((err as { code?: string }).code ?? "")) {
        throw err;
      }
      const fresh = await this.acquire(signal, true);
      return fresh.send(head, signal, into);
    }
  }

  /** Resolves when a connection is ready (or there is nothing to do); never rejects. */
  preconnect(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.warm || this.idle.length > 0) {
      this.warmStats.skipped++;
      return this.warm ? ready(this.warm.conn) : Promise.resolve();
    }
    const now = performance.now();
    if (now - this.lastWarmAt < this.minIntervalMs || this.all.size >= this.maxSockets) return Promise.resolve();
    this.lastWarmAt = now;
    const conn = this.open();
    this.warmStats.opened++;
    const timer = setTimeout(() => {
      if (this.warm?.conn !== conn) return;
      this.warm = undefined;
      this.warmStats.wasted++;
      conn.destroy();
    }, this.maxIdleMs);
    timer.unref();
    this.warm = { conn, timer };
    this.idle.push(conn);
    conn.socket.unref();
    return ready(conn);
  }

  /**
   * Opens connections until `n` (at most `maxSockets`) are open or opening, for the parallel GETs
   * a caller is about to send (PreconnectOptions.connections). Nothing is sent on them; they
   * wait as idle connections do (behind the established ones, closed after `idleTimeoutMs`).
   */
  ensureConnections(n: number): void {
    const target = Math.min(n, this.maxSockets);
    while (!this.closed && this.all.size < target) {
      const conn = this.open();
      this.idle.unshift(conn); // connected ones first: a request should not wait for this one
      this.startIdleTimer(conn);
      conn.socket.unref();
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      w.signal?.removeEventListener("abort", w.onAbort);
      w.reject(new Error("range GET pool closed"));
    }
    for (const conn of [...this.all]) conn.destroy();
  }

  /** An idle connection (newest first), a new one below the bound, or the next one freed. */
  private acquire(signal: AbortSignal | undefined, fresh = false): Promise<RangeConnection> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.closed) return Promise.reject(new Error("range GET pool closed"));
    if (!fresh) {
      for (let conn = this.idle.pop(); conn; conn = this.idle.pop()) {
        this.stopIdleTimer(conn);
        if (conn.alive) return Promise.resolve(conn);
      }
    }
    if (this.all.size < this.maxSockets) return Promise.resolve(this.open());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(abortError(signal!));
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private open(): RangeConnection {
    const conn = new RangeConnection(
      this.endpoint,
      this.requestTimeoutMs,
      (c) => this.onFree(c),
      (c) => this.onGone(c),
    );
    this.connects++;
    this.all.add(conn);
    const timer = setTimeout(() => {
      if (conn.connecting) conn.socket.destroy(connectTimeout(this.connectTimeoutMs));
    }, this.connectTimeoutMs);
    timer.unref();
    conn.socket.once(conn.readyEvent, () => clearTimeout(timer));
    conn.socket.once("close", () => clearTimeout(timer));
    return conn;
  }

  /** True when `conn` was the warm connection (now handed to a request). */
  private takeWarm(conn: RangeConnection): boolean {
    if (this.warm?.conn !== conn) return false;
    clearTimeout(this.warm.timer);
    this.warm = undefined;
    this.warmStats.used++;
    return true;
  }

  private onFree(conn: RangeConnection): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(conn);
    } else {
      this.idle.push(conn);
      this.startIdleTimer(conn);
    }
  }

  private startIdleTimer(conn: RangeConnection): void {
    if (!Number.isFinite(this.idleTimeoutMs)) return;
    const timer = setTimeout(() => {
      this.idleTimers.delete(conn);
      if (!this.idle.includes(conn)) return;
      this.idleClosed++;
      conn.destroy(); // onGone takes it out of the pool
    }, this.idleTimeoutMs);
    timer.unref();
    this.idleTimers.set(conn, timer);
  }

  private stopIdleTimer(conn: RangeConnection): void {
    const timer = this.idleTimers.get(conn);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.idleTimers.delete(conn);
  }

  private onGone(conn: RangeConnection): void {
    this.all.delete(conn);
    this.stopIdleTimer(conn);
    const at = this.idle.indexOf(conn);
    if (at >= 0) this.idle.splice(at, 1);
    if (this.warm?.conn === conn) {
      clearTimeout(this.warm.timer);
      this.warm = undefined;
      this.warmStats.wasted++;
    }
    // A slot is free: the next waiter gets a new connection.
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(this.open());
    }
  }
}

function connectTimeout(ms: number): Error {
  return Object.assign(new Error(`Socket timed out without establishing a connection within ${ms} ms`), {
    name: "TimeoutError",
  });
}

/** Settles when the connection is ready for a request, failed or closed. */
function ready(conn: RangeConnection): Promise<void> {
  if (!conn.connecting) return Promise.resolve();
  return new Promise((resolve) => {
    const s = conn.socket;
    const done = () => {
      for (const e of [conn.readyEvent, "error", "close"]) s.off(e, done);
      resolve();
    };
    // A TLS socket emits "connect" before its handshake: wait for its ready event.
    for (const e of [conn.readyEvent, "error", "close"]) s.once(e, done);
  });
}
