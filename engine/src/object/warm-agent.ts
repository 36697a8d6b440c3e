/**
 * HTTP(S) agents that can open one connection ahead of need (`ObjectStore.preconnect`).
 *
 * Why: servers drop idle keep-alive connections (node's http server, hence s3rver, after 5 s;
 * S3 and proxies after tens of seconds), so the first GET after an idle period pays a TCP
 * connect (and a TLS handshake) before its request: one round trip more on a WAN. The mount
 * knows a GET is coming before it can send it — a cold file is opened, then its extents are
 * fetched from the metadata service, and only then is the chunk known — so it calls
 * `preconnect()` at open and the connect overlaps the metadata round trip.
 *
 * How: the agent remembers the origin of its last connection. `preconnect()` opens one socket
 * to it when the agent holds no idle one; the next request that makes the agent create a
 * connection (`createConnection`) is handed that socket instead of dialling.
 *
 * Bounded: nothing is ever sent on a warm socket (no pings); at most one per agent, opened at
 * most once per `minIntervalMs`, closed when unused for `maxIdleMs`. An idle mount opens nothing.
 */
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";

/** The bounds both warmers (these agents, the lean range-GET pool) use unless told otherwise. */
export const WARM_DEFAULTS = { maxIdleMs: 4000, minIntervalMs: 1000 } as const;

export interface WarmOptions {
  /** A warm socket nobody took is closed after this long (ms). Default 4000. */
  maxIdleMs?: number;
  /** At most one warm connect per this interval (ms), however often preconnect is called. Default 1000. */
  minIntervalMs?: number;
}

export interface WarmStats {
  /** Warm connects started. */
  opened: number;
  /** Warm sockets handed to a request. */
  used: number;
  /** Warm sockets closed unused (idle bound, or closed by the server). */
  wasted: number;
  /** preconnect calls that found an idle keep-alive socket (or a warm one) and did nothing. */
  skipped: number;
}

type ConnectOptions = http.ClientRequestArgs & { servername?: string };
/** Where requests go, until the first real connection tells. */
export type Origin = { host: string; port: number };
type Dial = (options: ConnectOptions) => Duplex;

/** The shared part of both agents: one warm socket slot. */
class WarmSlot {
  readonly stats: WarmStats = { opened: 0, used: 0, wasted: 0, skipped: 0 };
  private origin?: ConnectOptions;
  private socket?: Duplex & { connecting?: boolean };
  private idleTimer?: NodeJS.Timeout;
  private lastOpenAt = Number.NEGATIVE_INFINITY;
  private closed = false;
  private readonly maxIdleMs: number;
  private readonly minIntervalMs: number;

  constructor(
    private readonly agent: http.Agent,
    private readonly dial: Dial,
    options: WarmOptions,
    origin: Origin | undefined,
  ) {
    this.origin = origin;
    this.maxIdleMs = options.maxIdleMs ?? WARM_DEFAULTS.maxIdleMs;
    this.minIntervalMs = options.minIntervalMs ?? WARM_DEFAULTS.minIntervalMs;
  }

  /** The agent needs a connection: the warm one if it goes to the same place, else a fresh dial. */
  connection(options: ConnectOptions): Duplex {
    this.origin = { host: options.host, port: options.port, servername: options.servername };
    const warm = this.socket;
    if (warm && sameOrigin(warm, options) && !warm.destroyed) {
      this.release();
      this.stats.used++;
      return warm;
    }
    return this.dial(options);
  }

  /** Resolves when a connection is ready (or there is nothing to do); never rejects. */
  preconnect(): Promise<void> {
    const origin = this.origin;
    if (this.closed || !origin) return Promise.resolve();
    if (this.socket || this.idleSockets(origin) > 0) {
      this.stats.skipped++;
      return this.socket?.connecting ? once(this.socket) : Promise.resolve();
    }
    const now = performance.now();
    if (now - this.lastOpenAt < this.minIntervalMs) return Promise.resolve();
    this.lastOpenAt = now;
    let socket: Duplex;
    try {
      socket = this.dial({ ...agentOptions(this.agent), ...origin });
    } catch {
      return Promise.resolve();
    }
    this.stats.opened++;
    (socket as Duplex & { warmOrigin?: string }).warmOrigin = originKey(origin);
    this.socket = socket;
    socket.on("error", this.onGone);
    socket.on("close", this.onGone);
    this.idleTimer = setTimeout(() => this.drop(), this.maxIdleMs);
    this.idleTimer.unref();
    // An unused warm socket must not keep the process alive.
    (socket as Duplex & { unref?: () => void }).unref?.();
    return once(socket);
  }

  close(): void {
    this.closed = true;
    this.drop();
  }

  private idleSockets(origin: ConnectOptions): number {
    const name = this.agent.getName({ ...agentOptions(this.agent), ...origin } as http.ClientRequestArgs);
    return this.agent.freeSockets[name]?.length ?? 0;
  }

  private readonly onGone = () => {
    if (!this.socket) return;
    this.release();
    this.stats.wasted++;
  };

  private drop(): void {
    const socket = this.socket;
    if (!socket) return;
    this.release();
    this.stats.wasted++;
    socket.destroy();
  }

  /** Forgets the warm socket without closing it (handed over, or gone). */
  private release(): void {
    const socket = this.socket;
    if (!socket) return;
    this.socket = undefined;
    clearTimeout(this.idleTimer);
    socket.off("error", this.onGone);
    socket.off("close", this.onGone);
    (socket as Duplex & { ref?: () => void }).ref?.();
  }
}

/** The options the agent merges into every connection (TLS settings); node keeps them on `options`. */
function agentOptions(agent: http.Agent): ConnectOptions {
  return (agent as http.Agent & { options?: ConnectOptions }).options ?? {};
}

/** Host and port: the TLS server name of our sockets always follows the host, as node's agent does. */
function originKey(o: ConnectOptions): string {
  return `${o.host}:${o.port}`;
}

function sameOrigin(socket: Duplex, options: ConnectOptions): boolean {
  const key = (socket as Duplex & { warmOrigin?: string }).warmOrigin;
  return key === originKey({ host: options.host, port: options.port, servername: options.servername });
}

/** What node's agent sends as SNI for a host: none for an IP address. */
function serverName(host: string | null | undefined): string {
  return !host || isIP(host) ? "" : host;
}

/** Settles when the socket connected, failed or closed. */
function once(socket: Duplex & { connecting?: boolean }): Promise<void> {
  if (!socket.connecting) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      socket.off("connect", done);
      socket.off("secureConnect", done);
      socket.off("error", done);
      socket.off("close", done);
      resolve();
    };
    socket.once("connect", done);
    socket.once("secureConnect", done);
    socket.once("error", done);
    socket.once("close", done);
  });
}

/** Keep-alive HTTP agent with a warm-socket slot. */
export class WarmHttpAgent extends http.Agent {
  private readonly warm: WarmSlot;
  constructor(agentOptions: http.AgentOptions, warm: WarmOptions = {}, origin?: Origin) {
    super({ keepAlive: true, maxSockets: 50, ...agentOptions });
    const dial: Dial = (o) => http.Agent.prototype.createConnection.call(this, o) as Duplex;
    this.warm = new WarmSlot(this, dial, warm, origin);
  }
  override createConnection(options: ConnectOptions): Duplex {
    return this.warm.connection(options);
  }
  preconnect(): Promise<void> {
    return this.warm.preconnect();
  }
  get warmStats(): WarmStats {
    return { ...this.warm.stats };
  }
  override destroy(): void {
    this.warm.close();
    super.destroy();
  }
}

/** Keep-alive HTTPS agent with a warm-socket slot (the warm socket has done its TLS handshake). */
export class WarmHttpsAgent extends https.Agent {
  private readonly warm: WarmSlot;
  constructor(agentOptions: https.AgentOptions, warm: WarmOptions = {}, origin?: Origin) {
    super({ keepAlive: true, maxSockets: 50, ...agentOptions });
    const dial: Dial = (o) =>
      (https.Agent.prototype as unknown as { createConnection: (o: ConnectOptions) => Duplex }).createConnection.call(
        this,
        { ...o, servername: o.servername ?? serverName(o.host) },
      );
    this.warm = new WarmSlot(this, dial, warm, origin);
  }
  override createConnection(options: ConnectOptions): Duplex {
    return this.warm.connection(options);
  }
  preconnect(): Promise<void> {
    return this.warm.preconnect();
  }
  get warmStats(): WarmStats {
    return { ...this.warm.stats };
  }
  override destroy(): void {
    this.warm.close();
    super.destroy();
  }
}
