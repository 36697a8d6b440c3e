/**
 * The mount's session with the metadata service: opened at start, kept alive by heartbeats, and
 * reopened when the service says it is stale (a restarted service or a lease that ran out while
 * the link was down). Every call goes through `call`, which retries once on STALE_SESSION.
 *
 * Circuit breaker: after a call finds the service unreachable (each call already retried for
 * the client's retry budget), calls fail at once for `downForMs`, so a `cat` of a cached file
 * costs one retry budget, not one per kernel request, before the cache answers.
 */
import { randomUUID } from "node:crypto";
import type { CallContext, MetaApi } from "../meta/api.js";
import { MetaError } from "../meta/errors.js";

export class MetaSession {
  readonly ctx: CallContext;
  private timer: NodeJS.Timeout | undefined;
  private reopening: Promise<void> | undefined;
  private closed = false;
  private downUntil = 0;
  downForMs = 5000;

  private constructor(
    readonly api: MetaApi,
    token: string,
    private readonly clientName: string,
  ) {
    this.ctx = { token };
  }

  static async open(api: MetaApi, token: string, clientName: string): Promise<MetaSession> {
    const s = new MetaSession(api, token, clientName);
    await api.hello({ token }, { protocolVersions: [1], clientName });
    await s.reopen();
    return s;
  }

  private async reopen(): Promise<void> {
    const res = await this.api.openSession(
      { token: this.ctx.token },
      { requestId: randomUUID(), clientName: this.clientName },
    );
    this.ctx.sessionId = res.sessionId;
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(
      () => {
        this.api.heartbeat(this.ctx).catch((err) => {
          if (err instanceof MetaError && err.code === "STALE_SESSION") void this.renew();
        });
      },
      Math.max(1000, res.ttlMs / 3),
    );
    this.timer.unref();
  }

  private renew(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.reopening ??= this.reopen().finally(() => {
      this.reopening = undefined;
    });
    return this.reopening;
  }

  /** Runs `fn` with the session context; on STALE_SESSION opens a new session and tries once more. */
  async call<T>(fn: (ctx: CallContext) => Promise<T>): Promise<T> {
    if (Date.now() < this.downUntil) throw new MetaError("UNAVAILABLE", "metadata service unreachable (recently)");
    try {
      return await fn(this.ctx);
    } catch (err) {
      if (err instanceof MetaError && err.code === "UNAVAILABLE") this.downUntil = Date.now() + this.downForMs;
      if (!(err instanceof MetaError && err.code === "STALE_SESSION") || this.closed) throw err;
      await this.renew();
      return fn(this.ctx);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.api.closeSession(this.ctx, { requestId: randomUUID() }).catch(() => undefined);
  }
}
