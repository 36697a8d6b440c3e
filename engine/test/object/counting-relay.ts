/**
 * A TCP relay in front of a real store process that counts, from the server's side, the
 * connections clients open and the bytes they send on each; `cut()` closes them all (what a
 * server's idle timeout does, without waiting for it).
 */
import net from "node:net";

export interface RelayedConnection {
  acceptedAt: number;
  /** When the client sent its first byte (undefined: nothing sent yet). */
  firstByteAt?: number;
  sentBytes: number;
  open: boolean;
}

export interface CountingRelay {
  port: number;
  conns: RelayedConnection[];
  /** Connections still open. */
  open(): number;
  cut(): Promise<void>;
  close(): Promise<void>;
}

export async function startCountingRelay(targetPort: number): Promise<CountingRelay> {
  const conns: RelayedConnection[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    const c: RelayedConnection = { acceptedAt: performance.now(), sentBytes: 0, open: true };
    conns.push(c);
    sockets.push(client);
    client.on("data", (d) => {
      c.firstByteAt ??= performance.now();
      c.sentBytes += d.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      c.open = false;
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    conns,
    open: () => conns.filter((c) => c.open).length,
    cut: async () => {
      for (const s of sockets) s.destroy();
      await waitFor(() => conns.every((c) => !c.open));
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
