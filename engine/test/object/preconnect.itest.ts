/**
 * `preconnect()` of the S3 backend against a real s3rver, seen from the server's side: a TCP
 * relay in front of s3rver (counting-relay.ts) counts the connections the store opens and the
 * bytes sent on each, and can cut them all. Ranged GETs (what follows a read-open) go over the
 * lean client's pool (s3-request-handler.ts), so that is the pool preconnect warms and these
 * tests read with ranged GETs; the object is written around the relay.
 */
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { S3ObjectStore, s3ConfigFromUrl } from "../../src/object/s3.js";
import { REPO_ROOT } from "../harness/process.js";
import { type S3rverHandle, startS3rver } from "../harness/s3rver.js";
import { type CountingRelay, startCountingRelay as startRelay, waitFor } from "./counting-relay.js";

const DIST_URL_MODULE = pathToFileURL(`${REPO_ROOT}/engine/dist/object/url.js`).href;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let s3: S3rverHandle;
let relay: CountingRelay;
let store: S3ObjectStore | undefined;

beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3?.stop();
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  await relay?.close();
});

/** The store URL of `prefix`, through the relay. */
function relayUrl(prefix = "preconnect/"): URL {
  return new URL(s3.url(prefix, relay.port));
}

/** Writes "k" = "hello" directly (not through the relay). */
async function putK(body = "hello"): Promise<void> {
  const direct = new S3ObjectStore(s3ConfigFromUrl(new URL(s3.url("preconnect/")), { s3: s3.credentials }));
  await direct.put("k", Buffer.from(body));
  await direct.close();
}

/** A ranged GET of "k", as the read path sends them. */
const rget = (st: S3ObjectStore) => st.get("k", { range: { offset: 0, length: 5 } }).then(String);

async function open(warm: { maxIdleMs?: number; minIntervalMs?: number } = {}) {
  await putK();
  relay = await startRelay(Number(new URL(s3.endpoint).port));
  store = new S3ObjectStore({ ...s3ConfigFromUrl(relayUrl(), { s3: s3.credentials }), warm });
  expect(await rget(store)).toBe("hello");
  return store;
}

describe("S3 preconnect (s3rver behind a counting relay)", () => {
  it("does nothing while an idle keep-alive connection is left", async () => {
    const st = await open();
    expect(relay.conns.length).toBe(1);
    await st.preconnect();
    expect(relay.conns.length).toBe(1);
    expect(st.warmStats).toMatchObject({ opened: 0, skipped: 1 });
    expect(await rget(st)).toBe("hello");
    expect(relay.conns.length).toBe(1);
  });

  it("after the server dropped idle connections, opens one that the next GET uses", async () => {
    const st = await open();
    await relay.cut();
    await sleep(20); // the agent sees the close and forgets the socket
    await st.preconnect();
    expect(relay.conns.length).toBe(2);
    const warm = relay.conns[1]!;
    expect(warm.open).toBe(true);
    expect(warm.sentBytes).toBe(0); // connected, nothing sent
    expect(await rget(st)).toBe("hello");
    expect(relay.conns.length).toBe(2); // the GET went out on the warm connection
    expect(warm.sentBytes).toBeGreaterThan(0);
    expect(st.warmStats).toMatchObject({ opened: 1, used: 1, wasted: 0 });
    // It is an ordinary keep-alive connection now: a second preconnect finds it idle.
    await st.preconnect();
    expect(relay.conns.length).toBe(2);
  });

  it("connections: n opens up to n in this client (here) or in each client of the store; parallel GETs then use them", async () => {
    const st = await open();
    const sibling = new S3ObjectStore(s3ConfigFromUrl(relayUrl(), { s3: s3.credentials }));
    try {
      await st.preconnect({ connections: 4, here: true });
      await waitFor(() => relay.conns.length === 4); // the GET's connection and three more
      await sleep(50);
      expect(relay.conns.length).toBe(4); // not the sibling
      expect(relay.conns.slice(1).every((c) => c.open && c.sentBytes === 0)).toBe(true);
      const before = st.leanStats!.connects;
      expect((await Promise.all(Array.from({ length: 4 }, () => rget(st)))).every((b) => b === "hello")).toBe(true);
      expect(st.leanStats!.connects).toBe(before); // all four found one waiting
      expect(relay.conns.length).toBe(4);
      await st.preconnect({ connections: 3 }); // fanned out: the sibling opens three, this one none
      await waitFor(() => relay.conns.length === 7);
      await sleep(50);
      expect(relay.conns.length).toBe(7);
    } finally {
      await sibling.close();
    }
  });

  it("a warm connection nobody uses is closed after maxIdleMs, and calls are rate-limited", async () => {
    const st = await open({ maxIdleMs: 200, minIntervalMs: 10_000 });
    await relay.cut();
    await sleep(20);
    await st.preconnect();
    await st.preconnect(); // the warm one is there: nothing more
    expect(relay.conns.length).toBe(2);
    await waitFor(() => relay.open() === 0, 2000);
    expect(relay.conns[1]!.sentBytes).toBe(0);
    expect(st.warmStats).toMatchObject({ opened: 1, used: 0, wasted: 1 });
    // Within minIntervalMs no new connect, however often it is asked; idle time sends nothing.
    for (let i = 0; i < 5; i++) await st.preconnect();
    await sleep(300);
    expect(relay.conns.length).toBe(2);
    expect(relay.conns.reduce((n, c) => n + c.sentBytes, 0)).toBe(relay.conns[0]!.sentBytes);
    // Without a warm socket the GET dials as usual.
    expect(await rget(st)).toBe("hello");
    expect(relay.conns.length).toBe(3);
  });

  it("s3rver's own idle timeout (5 s) leaves no idle socket; preconnect then replaces it", async () => {
    const st = await open();
    await waitFor(() => relay.open() === 0, 8000); // node's http server: keepAliveTimeout 5 s
    await sleep(20);
    await st.preconnect();
    expect(relay.conns.length).toBe(2);
    expect(await rget(st)).toBe("hello");
    expect(relay.conns.length).toBe(2);
    expect(st.warmStats.used).toBe(1);
  }, 15_000);

  it("a fresh client warms the configured endpoint before its first request", async () => {
    await putK("first");
    relay = await startRelay(Number(new URL(s3.endpoint).port));
    store = new S3ObjectStore(s3ConfigFromUrl(relayUrl(), { s3: s3.credentials }));
    await store.preconnect();
    expect(relay.conns.length).toBe(1);
    expect(await rget(store)).toBe("first");
    expect(relay.conns.length).toBe(1);
    expect(store.warmStats).toMatchObject({ opened: 1, used: 1 });
  });

  it("with a probe key, this client and its siblings each read one byte of it on their warm connection", async () => {
    const st = await open();
    const sibling = new S3ObjectStore(s3ConfigFromUrl(relayUrl(), { s3: s3.credentials }));
    try {
      await relay.cut();
      await sleep(20);
      await st.preconnect({ probeKey: "k" });
      await waitFor(() => relay.conns.length === 3 && relay.conns.slice(1).every((c) => c.sentBytes > 0));
      expect(st.warmStats).toMatchObject({ opened: 1, used: 1 });
      await waitFor(() => sibling.warmStats.used === 1);
      await sleep(200); // its probe's answer is in: the connection is idle again
      expect(await rget(sibling)).toBe("hello");
      expect(relay.conns.length).toBe(3); // the probe's connection stays for the next request
    } finally {
      await sibling.close();
    }
  });

  it("warms every client of the same store in the process: a sibling here and one in a worker thread", async () => {
    const st = await open();
    const sibling = new S3ObjectStore(s3ConfigFromUrl(relayUrl(), { s3: s3.credentials }));
    const other = new S3ObjectStore(s3ConfigFromUrl(relayUrl("elsewhere/"), { s3: s3.credentials }));
    // A worker opens the same store URL from the built code, as the mount's fetch workers do.
    const worker = new Worker(
      `const { parentPort, workerData } = require("node:worker_threads");
       import(workerData.module).then(async ({ openObjectStore }) => {
         const store = await openObjectStore(workerData.url, { s3: workerData.credentials });
         parentPort.on("message", async (m) => {
           if (m === "get") parentPort.postMessage((await store.get("k", { range: { offset: 0, length: 5 } })).toString());
           if (m === "close") { await store.close(); parentPort.close(); }
         });
         parentPort.postMessage("ready");
       });`,
      {
        eval: true,
        workerData: { module: DIST_URL_MODULE, url: relayUrl().href, credentials: s3.credentials },
      },
    );
    const next = () => new Promise<unknown>((r) => worker.once("message", r));
    try {
      expect(await next()).toBe("ready");
      await relay.cut();
      await sleep(20);
      await st.preconnect();
      await waitFor(() => relay.conns.length === 4); // st, its sibling, the worker's; not `other`
      expect(relay.conns.slice(1).every((c) => c.open && c.sentBytes === 0)).toBe(true);
      worker.postMessage("get");
      expect(await next()).toBe("hello");
      expect(relay.conns.length).toBe(4); // the worker's GET used its warm connection
      expect(await rget(sibling)).toBe("hello");
      expect(relay.conns.length).toBe(4);
      expect(sibling.warmStats).toMatchObject({ opened: 1, used: 1 });
      expect(other.warmStats.opened).toBe(0);
    } finally {
      worker.postMessage("close");
      await new Promise((r) => worker.once("exit", r));
      await Promise.all([sibling.close(), other.close()]);
    }
  });
});
