#!/usr/bin/env node
/**
 * A TCP delay proxy: the WAN between a client and a service, without netem (this kernel has
 * none). Every byte is held for `delayMs` in each direction, so a request/response pays
 * 2 × delayMs on top of the loopback RTT (25 + 25 ms ≈ 50 ms RTT).
 *
 * Design:
 * - Per direction, chunks are queued with the time they may leave (arrival + delay) and a
 *   single timer drains the queue in order, so the delay is a pure latency: throughput is
 *   unchanged (the in-flight bytes simply sit in the queue, like a long pipe).
 * - Handshake: a real TCP connection costs one RTT before the first byte can be sent; the
 *   kernel completes our loopback connect at once, so client bytes are held until
 *   connectStart + 2 × delay before their one-way delay starts. Reused connections pay
 *   nothing extra, exactly as on a real link.
 * - Optional bandwidth cap (token bucket, bytes/s, one bucket per direction shared by all
 *   connections: it is one link). Chunks wait for tokens after their delay.
 * - Back-pressure: when a direction holds more than MAX_QUEUED bytes, its source is paused.
 *
 * CLI: node delay-proxy.mjs --listen 127.0.0.1:0 --target 127.0.0.1:9000 --delay-ms 25
 *      [--rate-mibps 100] [--no-handshake]   → prints "listening on HOST:PORT".
 *      On SIGUSR2 it prints "stats up=BYTES down=BYTES" (totals so far: the egress a workload
 *      caused is the difference of two readings).
 */
import net from "node:net";
import { fileURLToPath } from "node:url";

const MAX_QUEUED = 64 * 1024 * 1024;

/** A token bucket of `bytesPerSec`, bursting up to 1/20 s worth (≥ 256 KiB). */
export class TokenBucket {
  constructor(bytesPerSec) {
    this.rate = bytesPerSec;
    this.burst = Math.max(256 * 1024, bytesPerSec / 20);
    this.tokens = this.burst;
    this.at = performance.now();
  }
  /** Milliseconds until `bytes` may pass (0 = now; the tokens are then taken). */
  take(bytes) {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.rate) / 1000);
    this.at = now;
    if (this.tokens >= Math.min(bytes, this.burst)) {
      this.tokens -= bytes;
      return 0;
    }
    return ((Math.min(bytes, this.burst) - this.tokens) * 1000) / this.rate;
  }
}

/** One direction of one connection: delays chunks from `from` and writes them to `to`. */
class DelayedPipe {
  constructor(from, to, delayMs, bucket, notBefore, count) {
    Object.assign(this, { from, to, delayMs, bucket, notBefore, queue: [], queued: 0, timer: null });
    this.ended = false;
    this.flushedWaiters = [];
    from.on("data", (chunk) => {
      count(chunk.length);
      const now = performance.now();
      this.queue.push({ chunk, due: Math.max(now, this.notBefore) + this.delayMs });
      this.queued += chunk.length;
      if (this.queued > MAX_QUEUED) from.pause();
      this.schedule();
    });
    from.on("end", () => {
      this.ended = true;
      this.schedule();
    });
    to.on("drain", () => this.schedule());
  }
  schedule() {
    if (this.timer) return;
    this.pump();
  }
  pump() {
    this.timer = null;
    while (this.queue.length > 0) {
      const head = this.queue[0];
      let wait = head.due - performance.now();
      if (wait <= 0 && this.bucket) wait = this.bucket.take(head.chunk.length);
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), Math.max(1, wait));
        return;
      }
      this.queue.shift();
      this.queued -= head.chunk.length;
      const ok = this.to.write(head.chunk);
      if (this.queued <= MAX_QUEUED / 2 && this.from.isPaused()) this.from.resume();
      if (!ok) return; // 'drain' calls schedule() again
    }
    if (this.ended) {
      this.to.end();
      for (const f of this.flushedWaiters.splice(0)) f();
    }
  }

  /** Calls `f` once everything received has been written on (after the source ended). */
  whenFlushed(f) {
    this.ended = true;
    this.flushedWaiters.push(f);
    this.schedule();
  }
}

/**
 * Starts a proxy on `listen` ({host, port}) forwarding to `target` ({host, port}).
 * Returns { address: {host, port}, close() }.
 */
export async function startDelayProxy({ listen, target, delayMs, rateBytesPerSec, handshake = true }) {
  const up = rateBytesPerSec ? new TokenBucket(rateBytesPerSec) : null;
  const down = rateBytesPerSec ? new TokenBucket(rateBytesPerSec) : null;
  const sockets = new Set();
  const totals = { up: 0, down: 0 };
  const server = net.createServer({ noDelay: true }, (client) => {
    const started = performance.now();
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const upPipe = new DelayedPipe(client, upstream, delayMs, up, handshake ? started + 2 * delayMs : 0, (n) => {
      totals.up += n;
    });
    const downPipe = new DelayedPipe(upstream, client, delayMs, down, 0, (n) => {
      totals.down += n;
    });
    // A side that closes still has bytes in flight towards the other: tear the other side down
    // only once those are delivered. (Destroying it a fixed delay after the close raced the
    // queue: a `Connection: close` response could be cut before its last bytes, which the
    // client saw as ECONNRESET and answered by uploading the whole request body again.)
    upstream.on("close", () => downPipe.whenFlushed(() => setTimeout(() => client.destroy(), delayMs).unref()));
    client.on("close", () => upPipe.whenFlushed(() => setTimeout(() => upstream.destroy(), delayMs).unref()));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, resolve);
  });
  const { port } = server.address();
  return {
    address: { host: listen.host, port },
    totals,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Parses "host:port". */
export function hostPort(text) {
  const m = /^(.+):(\d+)$/.exec(text ?? "");
  if (!m) throw new Error(`expected HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: m[1], port: Number(m[2]) };
}

async function cli(argv) {
  const args = new Map();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--no-handshake") args.set("handshake", false);
    else if (a.startsWith("--")) args.set(a.slice(2), argv[++i]);
  }
  const delayMs = Number(args.get("delay-ms") ?? 25);
  const rate = args.get("rate-mibps");
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new Error("--delay-ms: expected a number ≥ 0");
  const proxy = await startDelayProxy({
    listen: hostPort(args.get("listen") ?? "127.0.0.1:0"),
    target: hostPort(args.get("target")),
    delayMs,
    rateBytesPerSec: rate ? Number(rate) * 1024 * 1024 : undefined,
    handshake: args.get("handshake") ?? true,
  });
  process.stdout.write(`listening on ${proxy.address.host}:${proxy.address.port}\n`);
  process.on("SIGUSR2", () => process.stdout.write(`stats up=${proxy.totals.up} down=${proxy.totals.down}\n`));
  const stop = () => proxy.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`delay-proxy: ${err.message}\n`);
    process.exit(2);
  });
}
