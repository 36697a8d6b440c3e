#!/usr/bin/env node
/**
 * Measures what the delay proxy adds: round-trip time of small request/response pairs on one
 * connection, the cost of a fresh connection (handshake emulation), and throughput with and
 * without a bandwidth cap — against a local echo/sink server, direct vs proxied.
 *
 *   node bench/lib/delay-proxy-check.mjs [--delay-ms 25] [--rate-mibps 50]
 */
import net from "node:net";
import { startDelayProxy } from "./delay-proxy.mjs";
import { textTable } from "./table.mjs";

const MiB = 1024 * 1024;
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const delayMs = opt("delay-ms", 25);
const rateMiBps = opt("rate-mibps", 50);

// 'p' → reply 'p'; anything else is a byte count to swallow, acknowledged with 'k'.
const server = net.createServer((s) => {
  let sinking = 0;
  s.on("data", (d) => {
    if (sinking > 0) {
      sinking -= d.length;
      if (sinking <= 0) s.write("k");
    } else if (d[0] === 0x70) s.write("p");
    else {
      sinking = Number(d.subarray(0, 12).toString()) - (d.length - 12);
      if (sinking <= 0) s.write("k");
    }
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const target = { host: "127.0.0.1", port: server.address().port };

function reply(sock) {
  return new Promise((r) => sock.once("data", r));
}
async function connect(port) {
  const t = performance.now();
  const sock = net.connect({ host: "127.0.0.1", port, noDelay: true });
  await new Promise((r) => sock.once("connect", r));
  sock.write("p");
  await reply(sock);
  return { sock, firstMs: performance.now() - t };
}
async function measure(port) {
  const { sock, firstMs } = await connect(port);
  const times = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    sock.write("p");
    await reply(sock);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const size = 64 * MiB;
  const t = performance.now();
  sock.write(String(size).padStart(12, "0"));
  const chunk = Buffer.alloc(MiB, 1);
  for (let sent = 0; sent < size; sent += chunk.length) {
    if (!sock.write(chunk)) await new Promise((r) => sock.once("drain", r));
  }
  await reply(sock);
  const mibps = size / MiB / ((performance.now() - t) / 1000);
  sock.destroy();
  return { rtt: times[10], firstMs, mibps };
}

const rows = [];
const direct = await measure(target.port);
rows.push(["direct (loopback)", direct.rtt.toFixed(2), direct.firstMs.toFixed(1), direct.mibps.toFixed(0)]);
for (const rate of [undefined, rateMiBps]) {
  const proxy = await startDelayProxy({
    listen: { host: "127.0.0.1", port: 0 },
    target,
    delayMs,
    rateBytesPerSec: rate ? rate * MiB : undefined,
  });
  const m = await measure(proxy.address.port);
  rows.push([
    `proxy ${delayMs}+${delayMs} ms${rate ? `, cap ${rate} MiB/s` : ""}`,
    m.rtt.toFixed(2),
    m.firstMs.toFixed(1),
    m.mibps.toFixed(0),
  ]);
  await proxy.close();
}
server.close();
process.stdout.write(
  `${textTable(["path", "RTT ms (median)", "connect+1st reply ms", "upload MiB/s (64 MiB)"], rows)}\n`,
);
process.stdout.write(
  `proxy adds ${(Number(rows[1][1]) - Number(rows[0][1])).toFixed(1)} ms per round trip (target ${2 * delayMs}); a fresh connection costs one more (handshake)\n`,
);
process.exit(0);
