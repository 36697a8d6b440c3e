/**
 * Crash test through the real network path: `filespace meta serve` (built CLI, own process
 * group) on a file:// store; 8 clients run ~3,000 mixed mutations over gRPC, each retried
 * with its requestId across restarts; the server is SIGKILLed at random moments 4 times and
 * restarted (with --takeover, once on an empty cache dir). Every call must finally be
 * acknowledged exactly once (exclusive creates, renames and unlinks would fail on a double
 * apply), and the recovered tree — read after a last kill and a restart on an empty cache —
 * must equal the model built from acknowledged results. Build first: `npx tsc -b`.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken } from "../../../src/meta/access/token.js";
import { type CallContext, ROOT_INO } from "../../../src/meta/api.js";
import { MetaClient } from "../../../src/meta/grpc/client.js";
import { deriveAccessTokenKey } from "../../../src/meta/grpc/serve.js";
import { nameToken, sealName, unseal } from "../helpers/names.js";
import { freePort, killGroup, MetaServeChildren } from "./serve-child.js";

const WORKERS = 8;
const OPS_PER_WORKER = 300;
const KILLS = 4;

let dir: string;
let port: number;
let key: Buffer;
let children: MetaServeChildren;

function serve(cacheDir: string, extra: string[] = []) {
  return children.start(cacheDir, extra);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "filespace-meta-crash-"));
  port = await freePort();
  children = new MetaServeChildren(dir, port);
  key = randomBytes(32);
  await writeFile(join(dir, "meta.key"), key.toString("base64"));
});
afterAll(async () => {
  children?.killAll();
  await rm(dir, { recursive: true, force: true });
});

interface FileModel {
  mode: number;
}

async function worker(
  client: MetaClient,
  ctx: CallContext,
  w: number,
): Promise<{ dirIno: number; files: Map<string, FileModel> }> {
  const files = new Map<string, FileModel>();
  let n = 0;
  const rid = () => `w${w}-op${n++}`;
  const d = await client.mkdir(ctx, {
    requestId: rid(),
    parent: ROOT_INO,
    name: sealName(ROOT_INO, `w${w}`),
    mode: 0o755,
    uid: 0,
    gid: 0,
  });
  const scope = d.attr.nameScope ?? d.attr.ino;
  let created = 0;
  const pick = () => [...files.keys()][Math.floor(Math.random() * files.size)]!;
  for (let i = 0; i < OPS_PER_WORKER; i++) {
    const r = Math.random();
    if (files.size < 3 || r < 0.4) {
      const name = `f${created++}`;
      const mode = 0o600 + (i % 64);
      await client.create(ctx, {
        requestId: rid(),
        parent: d.attr.ino,
        name: sealName(scope, name),
        mode,
        uid: 0,
        gid: 0,
        exclusive: true,
      });
      files.set(name, { mode });
    } else if (r < 0.6) {
      const from = pick();
      const to = `r${created++}`;
      await client.rename(ctx, {
        requestId: rid(),
        parent: d.attr.ino,
        name: nameToken(scope, from),
        newParent: d.attr.ino,
        newName: sealName(scope, to),
        noReplace: true,
      });
      files.set(to, files.get(from)!);
      files.delete(from);
    } else if (r < 0.8) {
      const name = pick();
      const f = await client.lookup(ctx, { parent: d.attr.ino, name: nameToken(scope, name) });
      const mode = (files.get(name)!.mode + 1) & 0o777;
      await client.setattr(ctx, { requestId: rid(), ino: f.attr.ino, mode });
      files.set(name, { mode });
    } else {
      const name = pick();
      await client.unlink(ctx, { requestId: rid(), parent: d.attr.ino, name: nameToken(scope, name) });
      files.delete(name);
    }
  }
  return { dirIno: d.attr.ino, files };
}

async function readTree(client: MetaClient, ctx: CallContext, dirIno: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let cookie: string | undefined;
  do {
    const page = await client.readdirplus(ctx, cookie === undefined ? { ino: dirIno } : { ino: dirIno, cookie });
    for (const e of page.entries) seen.set(unseal(e.name), e.attr.mode);
    cookie = page.cookie;
  } while (cookie !== undefined);
  return seen;
}

describe("meta serve under SIGKILL", () => {
  it("keeps every acknowledged mutation across kills and restarts, nothing twice", async () => {
    let server = await serve(join(dir, "cache-a"));
    const token = issueToken(deriveAccessTokenKey(key), { client: "crash", mode: "rw", subtreeRoot: ROOT_INO });
    const ctx = { token };
    const client = new MetaClient({ address: `127.0.0.1:${port}`, retryBudgetMs: 60_000, callTimeoutMs: 10_000 });
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(client, ctx, w));
    let done = false;
    const all = Promise.all(workers).finally(() => (done = true));
    let kills = 0;
    while (kills < KILLS && !done) {
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 900));
      if (done) break;
      killGroup(server.child);
      kills++;
      server = await serve(join(dir, kills === 2 ? "cache-empty" : "cache-a"), ["--takeover"]);
    }
    const models = await all;
    expect(kills).toBeGreaterThanOrEqual(3);
    expect(client.retries).toBeGreaterThan(0);

    // Last kill, restart on an empty cache: the store alone must hold everything acknowledged.
    killGroup(server.child);
    server = await serve(join(dir, "cache-final"), ["--takeover"]);
    for (const m of models) {
      const tree = await readTree(client, ctx, m.dirIno);
      expect(new Map([...tree].sort())).toEqual(new Map([...m.files].map(([k, v]) => [k, v.mode] as const).sort()));
    }
    const total = models.reduce((s, m) => s + m.files.size, 0);
    expect(total).toBeGreaterThan(0);
    client.close();

    // Clean stop releases the lease; a start without --takeover then succeeds at once.
    killGroup(server.child, "SIGTERM");
    await new Promise((r) => server.child.once("exit", r));
    server = await serve(join(dir, "cache-final"));

    // A second service on the same filespace refuses to start, naming the holder.
    const second = serve(join(dir, "cache-other")).catch((e: Error) => e);
    const err = await second;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/already served by/);
    killGroup(server.child, "SIGTERM");
  }, 150_000);
});
