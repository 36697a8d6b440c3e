/**
 * The service's plumbing shared by its read and write halves: token checks, the mutation
 * path (dedupe → record → apply → journal → answer when durable), sessions and their
 * leases, the snapshot schedule.
 *
 * A mutation: verify the token and its rights → validate (zod) → answer from the dedupe
 * memory if this request id was seen → build a record with every choice made (ids, time) →
 * apply it in memory (errors answer here, nothing journaled) → append to the journal →
 * answer once durable. A retry of a request still in flight waits for the same append.
 * If an append fails the service stops accepting anything (fail-stop: memory is ahead of
 * the journal; only recovery can be trusted).
 *
 * Reads run against the live tree or a snapshot's tree; they may observe changes whose
 * append is still in flight (they become durable or the service stops).
 */
import { randomUUID } from "node:crypto";
import { TokenVerifier } from "../access/token.js";
import * as A from "../api.js";
import { MetaError } from "../errors.js";
import { Namespace } from "../namespace/machine.js";
import type { NsRecord } from "../namespace/records.js";
import type { Tree } from "../namespace/types.js";
import type { Journal } from "../replication.js";
import { Caller } from "./context.js";
import { DEFAULT_SCHEDULE, runSchedule, type SchedulePolicy } from "./schedule.js";
import { parse, schemas } from "./schemas.js";

export interface MetaServiceOptions {
  journal: Journal<NsRecord>;
  /** Key that signs access tokens (≥ 32 bytes). */
  tokenKey: Buffer;
  /** Recovered state; a new empty filespace when omitted. */
  namespace?: Namespace;
  /** Service epoch (the durability layer bumps it on every start). */
  epoch?: number;
  clock?: () => number;
  /** Session and handle ids. */
  newId?: () => string;
  sessionTtlMs?: { default: number; min: number; max: number };
  /** Snapshot schedule; [] disables it. */
  schedule?: readonly SchedulePolicy[];
  /** Run the session sweeper and schedule on timers (off for tests that tick by hand). */
  timers?: boolean;
}

const DEFAULT_TTL = { default: 30_000, min: 5_000, max: 600_000 };
export type Need = "ro" | "rw" | "admin";

export abstract class ServiceCore {
  readonly ns: Namespace;
  readonly epoch: number;
  readonly #journal: Journal<NsRecord>;
  readonly #tokens: TokenVerifier;
  readonly #clock: () => number;
  protected readonly newId: () => string;
  readonly #ttl: { default: number; min: number; max: number };
  readonly #schedule: readonly SchedulePolicy[];
  readonly #pending = new Map<string, Promise<unknown>>();
  /** Session leases live in memory only (heartbeats are not journaled); a restart grants a fresh lease. */
  readonly #leases = new Map<string, number>();
  readonly #timers: NodeJS.Timeout[] = [];
  #failed: Error | undefined;

  constructor(opts: MetaServiceOptions) {
    this.ns = opts.namespace ?? new Namespace();
    this.epoch = opts.epoch ?? 1;
    this.#journal = opts.journal;
    this.#clock = opts.clock ?? Date.now;
    this.#tokens = new TokenVerifier(opts.tokenKey, this.#clock);
    this.newId = opts.newId ?? randomUUID;
    this.#ttl = opts.sessionTtlMs ?? DEFAULT_TTL;
    this.#schedule = opts.schedule ?? DEFAULT_SCHEDULE;
    const now = this.#clock();
    for (const [id, s] of this.ns.sessions) this.#leases.set(id, now + s.ttlMs);
    if (opts.timers) {
      this.#timers.push(setInterval(() => void this.sweepSessions().catch(() => {}), 1_000).unref());
      this.#timers.push(setInterval(() => void this.runSchedule().catch(() => {}), 60_000).unref());
    }
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#failed ??= new MetaError("UNAVAILABLE", "service closed");
  }

  // ---- plumbing ----------------------------------------------------------------------------

  protected caller(ctx: A.CallContext, need: Need): Caller {
    if (this.#failed) throw new MetaError("UNAVAILABLE", "metadata service stopped", { cause: this.#failed });
    const claims = this.#tokens.verify(ctx?.token);
    if (need !== "ro" && claims.mode === "ro") throw new MetaError("EROFS", `token of ${claims.client} is read-only`);
    if (need === "admin" && claims.mode !== "admin")
      throw new MetaError("EACCES", `operation needs an admin token; ${claims.client} has ${claims.mode}`);
    return new Caller(claims, ctx.sessionId);
  }

  protected tree(snapshot: string | undefined): Tree {
    return snapshot === undefined ? this.ns.live : this.ns.snapshot(snapshot).tree;
  }

  /** Apply, journal, answer when durable; dedupe by request id. */
  protected async mutate<T>(caller: Caller, requestId: string | undefined, build: (t: number) => NsRecord): Promise<T> {
    const key = requestId === undefined ? undefined : caller.dedupeKey(requestId);
    if (key !== undefined) {
      const inFlight = this.#pending.get(key);
      if (inFlight) return (await inFlight) as T;
      const prior = this.ns.remembered(key);
      if (prior !== undefined) return prior as T;
    }
    const record = build(this.#clock());
    if (key !== undefined) record.dedupe = key;
    const result = this.ns.apply(record);
    const version = this.ns.version;
    const durable = this.#journal.append({ version, record }).then(
      () => result,
      (cause: unknown) => {
        this.#failed ??= cause instanceof Error ? cause : new Error(String(cause));
        throw new MetaError("UNAVAILABLE", "journal append failed; service stopped", { cause });
      },
    );
    if (key !== undefined) {
      this.#pending.set(key, durable);
      const done = () => this.#pending.delete(key);
      durable.then(done, done);
    }
    return (await durable) as T;
  }

  protected session(caller: Caller): string {
    const id = caller.sessionId;
    const s = id === undefined ? undefined : this.ns.sessions.get(id);
    if (!id || !s || s.client !== caller.claims.client)
      throw new MetaError("STALE_SESSION", "no live session for this call");
    return id;
  }

  protected entry(caller: Caller, res: { attr: A.Attr }): A.EntryResponse {
    return { attr: caller.attr(res.attr) };
  }

  // ---- negotiation, sessions ---------------------------------------------------------------

  async hello(ctx: A.CallContext, req: A.HelloRequest): Promise<A.HelloResponse> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.hello, req, "hello");
    const common = r.protocolVersions.filter((v) => v >= A.MIN_PROTOCOL_VERSION && v <= A.PROTOCOL_VERSION);
    if (common.length === 0)
      throw new MetaError(
        "UNSUPPORTED_PROTOCOL",
        `client speaks ${r.protocolVersions.join(",")}, service ${A.MIN_PROTOCOL_VERSION}..${A.PROTOCOL_VERSION}`,
      );
    const { client, mode, subtreeRoot } = caller.claims;
    return {
      protocolVersion: Math.max(...common),
      epoch: this.epoch,
      version: this.ns.version,
      access: { client, mode, subtreeRoot },
    };
  }

  async version(ctx: A.CallContext): Promise<A.VersionResponse> {
    this.caller(ctx, "ro");
    return { version: this.ns.version, epoch: this.epoch };
  }

  async openSession(ctx: A.CallContext, req: A.OpenSessionRequest): Promise<A.SessionResponse> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.openSession, req, "openSession");
    const ttlMs = Math.min(this.#ttl.max, Math.max(this.#ttl.min, r.ttlMs ?? this.#ttl.default));
    const sessionId = this.newId();
    const res = await this.mutate<{ sessionId: string; ttlMs: number }>(
      new Caller(caller.claims, undefined),
      r.requestId,
      (t) => ({ op: "openSession", t, sessionId, client: caller.claims.client, ttlMs }),
    );
    if (!this.#leases.has(res.sessionId)) this.#leases.set(res.sessionId, this.#clock() + res.ttlMs);
    return { ...res, expiresAt: this.#leases.get(res.sessionId)! };
  }

  async heartbeat(ctx: A.CallContext): Promise<A.SessionResponse> {
    const caller = this.caller(ctx, "ro");
    const id = this.session(caller);
    const ttlMs = this.ns.sessions.get(id)!.ttlMs;
    const expiresAt = this.#clock() + ttlMs;
    this.#leases.set(id, expiresAt);
    return { sessionId: id, ttlMs, expiresAt };
  }

  async closeSession(ctx: A.CallContext, req: A.CloseSessionRequest): Promise<A.Empty> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.closeSession, req, "closeSession");
    const id = caller.sessionId;
    if (!id) throw new MetaError("EINVAL", "closeSession: ctx.sessionId is required");
    await this.mutate(caller, r.requestId, (t) => ({ op: "closeSession", t, sessionId: id }));
    this.#leases.delete(id);
    return {};
  }

  /** Close sessions whose lease ran out (releasing their handles). The timer calls this; tests may too. */
  async sweepSessions(): Promise<string[]> {
    const now = this.#clock();
    const expired = [...this.#leases].filter(([id, at]) => at <= now && this.ns.sessions.has(id)).map(([id]) => id);
    for (const id of expired) {
      this.#leases.delete(id);
      if (this.#failed) break;
      const system = new Caller({ client: "service", mode: "admin", subtreeRoot: A.ROOT_INO }, undefined);
      await this.mutate(system, undefined, (t) => ({ op: "closeSession", t, sessionId: id }));
    }
    return expired;
  }

  protected snapshotInfos(): A.SnapshotInfo[] {
    return [...this.ns.snapshots.values()]
      .map((s) => ({
        name: s.name,
        version: s.tree.version,
        createdAt: s.createdAt,
        ...(s.schedule ? { schedule: s.schedule } : {}),
      }))
      .sort((a, b) => a.version - b.version);
  }

  /** Run the snapshot schedule once (the timer calls this every minute). */
  async runSchedule(): Promise<void> {
    if (this.#schedule.length === 0 || this.#failed) return;
    const system = new Caller({ client: "service", mode: "admin", subtreeRoot: A.ROOT_INO }, undefined);
    await runSchedule(this.#schedule, this.#clock(), {
      list: () => this.snapshotInfos(),
      create: (name, schedule) => this.mutate(system, undefined, (t) => ({ op: "createSnapshot", t, name, schedule })),
      remove: (name) => this.mutate(system, undefined, (t) => ({ op: "deleteSnapshot", t, name })),
    });
  }
}
