/**
 * The lean range-GET client (range-get-pool.ts + range-get-connection.ts) against small local
 * servers that write raw HTTP bytes, so each test controls the framing: bodies read into the
 * caller's buffer, keep-alive connections the server closes, truncated and overlong bodies,
 * aborts mid-body, preconnect, and the same over TLS (self-signed certificate).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RangeBody } from "../../src/object/range-get-body.js";
import { RangeGetPool } from "../../src/object/range-get-pool.js";

type Handler = (socket: net.Socket, request: string, index: number) => void;
const servers: net.Server[] = [];
const pools: RangeGetPool[] = [];

/** A server that calls `handler` for each request head it receives (per connection: index). */
async function serve(
  handler: Handler,
  secure?: { key: Buffer; cert: Buffer },
): Promise<{ port: number; conns: net.Socket[] }> {
  const conns: net.Socket[] = [];
  const onConn = (socket: net.Socket) => {
    conns.push(socket);
    let buf = "";
    let index = 0;
    socket.on("error", () => {});
    socket.on("data", (d) => {
      buf += d.toString("latin1");
      for (let end = buf.indexOf("\r\n\r\n"); end >= 0; end = buf.indexOf("\r\n\r\n")) {
        const request = buf.slice(0, end);
        buf = buf.slice(end + 4);
        handler(socket, request, index++);
      }
    });
  };
  const server = secure ? tls.createServer(secure, onConn) : net.createServer(onConn);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, conns };
}

const pattern = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) & 0xff));
const ok = (body: Buffer, extra = "") =>
  Buffer.concat([Buffer.from(`HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\n${extra}\r\n`), body]);
const GET = "GET /k HTTP/1.1\r\nhost: x\r\nrange: bytes=0-1\r\n\r\n";

function pool(port: number, options: ConstructorParameters<typeof RangeGetPool>[1] = {}, ca?: Buffer): RangeGetPool {
  const p = new RangeGetPool(
    {
      protocol: ca ? "https:" : "http:",
      host: "127.0.0.1",
      port,
      ...(ca ? { tls: { ca, servername: "localhost" } } : {}),
    },
    options,
  );
  pools.push(p);
  return p;
}

async function readInto(p: RangeGetPool, into?: Buffer, signal?: AbortSignal) {
  const res = await p.request(GET, signal);
  const progress: number[] = [];
  const bytes = await (res.body as RangeBody).readInto(into, (n) => progress.push(n));
  return { res, bytes, progress };
}

afterEach(async () => {
  for (const p of pools.splice(0)) p.close();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

describe("lean range GETs (local raw HTTP servers)", () => {
  it("reads a body straight into the caller's buffer, progress monotonic and final, then reuses the connection", async () => {
    const body = pattern(3 << 20);
    const srv = await serve((s) => s.write(ok(body, 'ETag: "e"\r\n')));
    const p = pool(srv.port);
    const into = Buffer.alloc(4 << 20);
    const { res, bytes, progress } = await readInto(p, into);
    expect(res.statusCode).toBe(206);
    expect(res.headers.etag).toBe('"e"');
    expect(bytes.buffer).toBe(into.buffer);
    expect(bytes.equals(body)).toBe(true);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.every((n, i) => i === 0 || n > progress[i - 1]!)).toBe(true);
    expect(progress.at(-1)).toBe(body.length);
    const again = await readInto(p, into);
    expect(again.bytes.equals(body)).toBe(true);
    expect(p.connects).toBe(1);
    // The body is an ordinary stream too, when nobody asks for readInto.
    const res3 = await p.request(GET);
    const parts: Buffer[] = [];
    for await (const chunk of res3.body) parts.push(chunk as Buffer);
    expect(Buffer.concat(parts).equals(body)).toBe(true);
  });

  it("body bytes that come with the head stay intact on a reused connection, whoever claims them", async () => {
    // Each response differs and is written with its head in one piece, so the first read holds
    // head + body start (kept in a lent scratch buffer until the body is claimed).
    const bodies = [1000, 70_000, 5000, 200_000, 64 * 1024].map((n) => randomBytes(n)); // no period to hide a shift
    const srv = await serve((s, _req, i) => s.write(ok(bodies[i]!)));
    const p = pool(srv.port);
    const into = Buffer.alloc(256 * 1024);
    for (const [i, want] of bodies.entries()) {
      if (i === 2) {
        const res = await p.request(GET);
        const parts: Buffer[] = [];
        for await (const chunk of res.body) parts.push(chunk as Buffer);
        expect(Buffer.concat(parts).equals(want)).toBe(true);
      } else {
        const res = await p.request(GET);
        // Claimed late: more reads land in the scratch buffer while the first ones wait.
        if (i === 3) await new Promise((r) => setTimeout(r, 50));
        const bytes = await (res.body as RangeBody).readInto(into);
        expect(bytes.equals(want)).toBe(true);
      }
    }
    expect(p.connects).toBe(1);
  });

  it("a socket closed before the last body byte is an ECONNRESET error, never a short body", async () => {
    const srv = await serve((s) => {
      s.write(Buffer.from("HTTP/1.1 206 Partial Content\r\nContent-Length: 100000\r\n\r\n"));
      s.end(pattern(50_000)); // lies: closes halfway
    });
    const err = await readInto(pool(srv.port), Buffer.alloc(100_000)).catch((e) => e);
    expect(err).toMatchObject({ name: "RangeGetError", code: "ECONNRESET" });
  });

  it("a response longer than its Content-Length is an error", async () => {
    const srv = await serve((s) => s.write(Buffer.concat([ok(pattern(1000)), Buffer.from("garbage")])));
    const err = await readInto(pool(srv.port), Buffer.alloc(4096)).catch((e) => e);
    expect(err).toMatchObject({ name: "RangeGetError", code: "EPROTO" });
  });

  it("drops a kept-alive connection the server closed, and resends once when it closes as the request arrives", async () => {
    const body = pattern(1000);
    // Closes every connection after its first answer (without saying so)...
    const closing = await serve((s, _r, i) => (i === 0 ? s.end(ok(body)) : s.destroy()));
    const p1 = pool(closing.port);
    await readInto(p1);
    await new Promise((r) => setTimeout(r, 50));
    expect((await readInto(p1)).bytes.equals(body)).toBe(true); // the closed one was not used
    expect(p1.connects).toBe(2);
    // ...or keeps it open but drops it when the next request arrives: one resend on a fresh one.
    const racing = await serve((s, _r, i) => (i === 0 ? s.write(ok(body)) : s.destroy()));
    const p2 = pool(racing.port);
    await readInto(p2);
    expect((await readInto(p2)).bytes.equals(body)).toBe(true);
    expect(p2.connects).toBe(2);
    expect(racing.conns.length).toBe(2);
  });

  it("an abort mid-body rejects with AbortError and closes the connection", async () => {
    const srv = await serve((s) =>
      s.write(Buffer.from("HTTP/1.1 206 Partial Content\r\nContent-Length: 100000\r\n\r\nabc")),
    );
    const p = pool(srv.port);
    const ac = new AbortController();
    const res = await p.request(GET, ac.signal);
    const reading = (res.body as RangeBody).readInto(Buffer.alloc(100_000));
    setTimeout(() => ac.abort(), 20);
    await expect(reading).rejects.toMatchObject({ name: "AbortError" });
    await new Promise((r) => srv.conns[0]!.once("close", r));
    // An abort before the answer rejects too.
    await expect(p.request(GET, AbortSignal.abort())).rejects.toMatchObject({ name: "AbortError" });
  });

  it("maps nothing itself: a 404 with a chunked error body comes back whole for the SDK to parse", async () => {
    const xml = "<Error><Code>NoSuchKey</Code></Error>";
    const srv = await serve((s) =>
      s.write(
        `HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n${xml.length.toString(16)}\r\n${xml}\r\n0\r\n\r\n`,
      ),
    );
    const p = pool(srv.port);
    const res = await p.request(GET);
    expect(res.statusCode).toBe(404);
    const parts: Buffer[] = [];
    for await (const c of res.body) parts.push(c as Buffer);
    expect(Buffer.concat(parts).toString()).toBe(xml);
    expect((await p.request(GET)).statusCode).toBe(404); // framing understood: connection reused
    expect(p.connects).toBe(1);
  });

  it("a body dropped unread closes its connection; the pool goes on with a new one", async () => {
    const body = pattern(1 << 20);
    const srv = await serve((s) => s.write(ok(body)));
    const p = pool(srv.port, { maxSockets: 1 });
    (await p.request(GET)).body.destroy();
    expect((await readInto(p)).bytes.equals(body)).toBe(true);
    expect(p.connects).toBe(2);
  });

  it("preconnect opens one connection with nothing sent, and the next request uses it", async () => {
    const srv = await serve((s) => s.write(ok(pattern(10))));
    const p = pool(srv.port, { warm: { minIntervalMs: 10_000 } });
    await p.preconnect();
    await p.preconnect(); // the warm one is there
    expect(p.connects).toBe(1);
    expect(p.warmStats).toMatchObject({ opened: 1, skipped: 1 });
    await readInto(p);
    expect(p.connects).toBe(1);
    expect(p.warmStats).toMatchObject({ opened: 1, used: 1, wasted: 0 });
  });

  it("ensureConnections opens up to n with nothing sent; n parallel requests then open none; the extras idle out", async () => {
    const requests: number[] = [];
    const srv = await serve((s, _req, i) => {
      requests.push(srv.conns.indexOf(s));
      setTimeout(() => s.write(ok(pattern(100))), 20 * (i + 1));
    });
    const p = pool(srv.port, { idleTimeoutMs: 300, maxSockets: 6 });
    p.ensureConnections(4);
    p.ensureConnections(3); // already open or opening: nothing more
    await new Promise<void>((r) => {
      const check = () => (srv.conns.length === 4 ? r() : setTimeout(check, 5));
      check();
    });
    expect(p.connects).toBe(4);
    expect(requests).toEqual([]);
    const all = await Promise.all(Array.from({ length: 4 }, () => readInto(p)));
    expect(all.every((r) => r.bytes.length === 100)).toBe(true);
    expect(p.connects).toBe(4); // every request found a connection waiting
    expect(new Set(requests).size).toBe(4);
    p.ensureConnections(50); // bounded by maxSockets
    expect(p.connects).toBe(6);
    await new Promise((r) => setTimeout(r, 600));
    expect(srv.conns.filter((c) => !c.destroyed && !c.readableEnded).length).toBe(0);
    expect(p.idleClosed).toBe(6);
  });

  it("bounds the connections per origin; more requests wait for a free one", async () => {
    const srv = await serve((s) => setTimeout(() => s.write(ok(pattern(100))), 30));
    const p = pool(srv.port, { maxSockets: 2 });
    const all = await Promise.all(Array.from({ length: 6 }, () => readInto(p)));
    expect(all.every((r) => r.bytes.length === 100)).toBe(true);
    expect(p.connects).toBe(2);
  });

  it("closes a connection idle longer than idleTimeoutMs; the next request opens a new one and succeeds", async () => {
    const body = pattern(500);
    // The server never closes a connection: only the client's idle bound can.
    const srv = await serve((s) => s.write(ok(body)));
    const p = pool(srv.port, { idleTimeoutMs: 150 });
    await readInto(p);
    await readInto(p); // within the bound: reused
    expect(p.connects).toBe(1);
    const idleSince = performance.now();
    const first = srv.conns[0]!;
    const closed = await new Promise<boolean>((r) => {
      first.once("close", () => r(true));
      setTimeout(() => r(false), 2000);
    });
    expect(closed).toBe(true);
    expect(performance.now() - idleSince).toBeGreaterThanOrEqual(140);
    expect(p.idleClosed).toBe(1);
    expect((await readInto(p)).bytes.equals(body)).toBe(true);
    expect(p.connects).toBe(2);
    expect(srv.conns.length).toBe(2);
  });

  it("the idle bound spares a connection while its request is out, and the warm one keeps its own bound", async () => {
    const slow = await serve((s) => setTimeout(() => s.write(ok(pattern(100))), 250));
    const p1 = pool(slow.port, { idleTimeoutMs: 100 });
    await readInto(p1);
    await readInto(p1);
    expect(p1.connects).toBe(1);
    expect(p1.idleClosed).toBe(0);
    // A preconnected connection waits for its first request up to warm.maxIdleMs, not idleTimeoutMs.
    const srv = await serve((s) => s.write(ok(pattern(10))));
    const p2 = pool(srv.port, { idleTimeoutMs: 50, warm: { maxIdleMs: 10_000 } });
    await p2.preconnect();
    await new Promise((r) => setTimeout(r, 150));
    await readInto(p2);
    expect(p2.connects).toBe(1);
    expect(p2.warmStats).toMatchObject({ opened: 1, used: 1, wasted: 0 });
    expect(p2.idleClosed).toBe(0);
  });
});

describe("lean range GETs over TLS (node's TLS sockets honour onread)", () => {
  let dir: string;
  let secure: { key: Buffer; cert: Buffer };
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "range-get-tls-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost",
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`,
      ],
      { stdio: "ignore" },
    );
    secure = { key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`) };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads into the caller's buffer over https, and refuses an untrusted certificate", async () => {
    const body = pattern(1 << 20);
    const srv = await serve((s) => s.write(ok(body)), secure);
    const p = pool(srv.port, {}, secure.cert);
    const into = Buffer.alloc(1 << 20);
    const { bytes } = await readInto(p, into);
    expect(bytes.buffer).toBe(into.buffer);
    expect(bytes.equals(body)).toBe(true);
    expect((await readInto(p, into)).bytes.equals(body)).toBe(true);
    expect(p.connects).toBe(1);
    const untrusting = new RangeGetPool({
      protocol: "https:",
      host: "127.0.0.1",
      port: srv.port,
      tls: { servername: "localhost" },
    });
    pools.push(untrusting);
    await expect(untrusting.request(GET)).rejects.toThrow(/self.signed|certificate/i);
  });
});
