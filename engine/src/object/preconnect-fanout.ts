/**
 * One store, several clients: the mount's main thread and each fetch worker (data/fetch-pool)
 * open their own client of the same store URL, with their own connections — and the GETs of
 * a cold read run in a worker. A `preconnect()` on the mount's store must warm the clients
 * that will send those GETs, so it is fanned out to every client of that store in the process
 * over a BroadcastChannel named after the store (its description: no secrets).
 *
 * Each client then warms at most one connection of its own (warm-agent.ts bounds it), and only
 * if it has no idle one: after an idle period every worker gets a connection, which the first
 * runs of a cold read (spread over the workers) use. With a probe key each client also sends
 * one 1-byte GET (see PreconnectOptions).
 */
import { BroadcastChannel } from "node:worker_threads";
import type { PreconnectOptions } from "./types.js";

export class PreconnectFanout {
  private readonly channel: BroadcastChannel;
  private closed = false;

  constructor(
    identity: string,
    private readonly here: (options: PreconnectOptions) => Promise<void>,
  ) {
    this.channel = new BroadcastChannel(`filespaces.object.preconnect:${identity}`);
    this.channel.onmessage = (event) => {
      const { probeKey, connections } = (event as MessageEvent).data ?? {};
      void here({
        ...(typeof probeKey === "string" ? { probeKey } : {}),
        ...(typeof connections === "number" ? { connections } : {}),
      });
    };
    // Listening must not keep a process (or a worker) alive.
    this.channel.unref();
  }

  /** Warms this client (the promise) and every sibling (other instances get the message, not the sender). */
  preconnect(options: PreconnectOptions = {}): Promise<void> {
    if (this.closed) return Promise.resolve(); // a closed channel throws on postMessage
    this.channel.postMessage({ probeKey: options.probeKey, connections: options.connections });
    return this.here(options);
  }

  close(): void {
    this.closed = true;
    this.channel.close();
  }
}
