#!/usr/bin/env node
/**
 * Serves a MemoryVfs on a mount point, in its own process (tests and benchmarks spawn it).
 *
 *   node engine/dist/fuse/serve-memory.js --mountpoint DIR [--binding native|fuse-native]
 *     [--allow-other] [--keep-cache] [--writeback] [--threads N] [--lock-log FILE]
 *     [--handover-socket PATH] [--adopt PATH]
 *
 * Prints one JSON line {"ready":true,...} when the mount serves. Reads JSON commands on stdin
 * (one per line) to change the file system behind the kernel's back and to invalidate:
 *   {"cmd":"write","path":"/f","data":"text","offset":0}  {"cmd":"invalidate-inode","path":"/f"}
 *   {"cmd":"rename","from":"/a","to":"/b"}  {"cmd":"invalidate-entry","dir":"/","name":"a"}
 *   {"cmd":"setxattr","path":"/f","name":"user.k","value":"v"}
 *   {"cmd":"unmount"}
 * and answers each with a JSON line {"ok":true} or {"ok":false,"error":"..."}.
 * With --handover-socket it hands the mount to a successor started with --adopt, then exits.
 */
import { appendFileSync } from "node:fs";
import { posix } from "node:path";
import { createInterface } from "node:readline";
import { z } from "zod";
import type { FsError } from "../vfs/errors.js";
import { MemoryVfs, type MemoryVfsSnapshot } from "../vfs/memory.js";
import { ROOT_INO, type Vfs } from "../vfs/types.js";
import { adoptMount, serveHandover } from "./handover.js";
import { mountVfs } from "./mount.js";
import { NativeFuseMount } from "./native-mount.js";
import type { FuseMount } from "./types.js";

const ArgsSchema = z.object({
  mountpoint: z.string().min(1, "--mountpoint is required").optional(),
  binding: z.enum(["auto", "native", "fuse-native"]).default("auto"),
  allowOther: z.boolean().default(false),
  keepCache: z.boolean().default(false),
  writeback: z.boolean().default(false),
  threads: z.coerce.number().int().min(1).default(4),
  cacheSeconds: z.coerce.number().min(0).default(1),
  lockLog: z.string().optional(),
  handoverSocket: z.string().optional(),
  adopt: z.string().optional(),
});

function parseArgs(argv: string[]) {
  const raw: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i]?.replace(/^--/, "").replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) ?? "";
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) raw[key] = true;
    else {
      raw[key] = next;
      i++;
    }
  }
  const r = ArgsSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`serve-memory: --${issue?.path.join(".")}: ${issue?.message}`);
  }
  if (!r.data.mountpoint && !r.data.adopt) throw new Error("serve-memory: --mountpoint or --adopt is required");
  return r.data;
}

/** Wrap lock calls so a test can see that they reached the file system ("lock service"). */
function withLockLog(vfs: Vfs, file: string): Vfs {
  const log = (rec: object) =>
    appendFileSync(file, `${JSON.stringify(rec, (_, v) => (typeof v === "bigint" ? v.toString() : v))}\n`);
  return new Proxy(vfs, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== "setlk" && prop !== "getlk" && prop !== "flock")
        return typeof value === "function" ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        const [ctx, ino, , owner, what, wait] = args as [{ pid: number }, number, number, bigint, unknown, boolean];
        log({ op: prop, phase: "start", pid: ctx.pid, ino, owner, what, wait });
        try {
          const res = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          log({ op: prop, phase: "done", pid: ctx.pid, ino, owner, what, result: res ?? "ok" });
          return res;
        } catch (err) {
          log({ op: prop, phase: "done", pid: ctx.pid, ino, owner, what, error: (err as FsError).code ?? String(err) });
          throw err;
        }
      };
    },
  });
}

async function resolvePath(vfs: MemoryVfs, path: string): Promise<number> {
  const ctx = { uid: 0, gid: 0, pid: 0 };
  let ino = ROOT_INO;
  for (const part of path.split("/").filter(Boolean)) {
    const e = await vfs.lookup(ctx, ino, part);
    vfs.forget(e.attr.ino, 1);
    ino = e.attr.ino;
  }
  return ino;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const vfsOptions = { keepCache: args.keepCache, cacheSeconds: args.cacheSeconds };
  let memory: MemoryVfs = new MemoryVfs(vfsOptions);
  const wrap = (m: MemoryVfs): Vfs => (args.lockLog ? withLockLog(m, args.lockLog) : m);
  const mountOptions = {
    binding: args.binding,
    allowOther: args.allowOther,
    writebackCache: args.writeback,
    threads: args.threads,
    attrTimeout: args.cacheSeconds,
  };
  let mount: FuseMount;
  if (args.adopt) {
    mount = adoptMount(
      args.adopt,
      (state) => {
        memory = MemoryVfs.fromSnapshot(state as MemoryVfsSnapshot, vfsOptions);
        return wrap(memory);
      },
      mountOptions,
    );
  } else {
    mount = await mountVfs(wrap(memory), args.mountpoint as string, mountOptions);
  }
  const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  say({ ready: true, binding: mount.binding, pid: process.pid, mountpoint: mount.mountpoint });

  let leaving = false;
  const leave = async (code: number) => {
    if (leaving) return;
    leaving = true;
    // Never linger: a stuck unmount must not keep this process (and a test's pipes) alive.
    await Promise.race([mount.unmount().catch(() => {}), new Promise((r) => setTimeout(r, 5000).unref())]);
    process.exit(code);
  };
  process.on("SIGTERM", () => void leave(0));
  process.on("SIGINT", () => void leave(0));
  mount.closed.then(() => {
    if (!leaving) process.exit(0);
  });

  if (args.handoverSocket && mount instanceof NativeFuseMount) {
    const m = mount;
    serveHandover(m, args.handoverSocket, () => memory.snapshot()).then(
      () => {
        leaving = true;
        process.exit(0);
      },
      (err) => console.error("[serve-memory] hand-over failed", err),
    );
  }

  const ctx = { uid: 0, gid: 0, pid: 0 };
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    try {
      const c = JSON.parse(line) as Record<string, string | number>;
      switch (c.cmd) {
        case "write": {
          const ino = await resolvePath(memory, String(c.path));
          const { fh } = await memory.open(ctx, ino, 2);
          await memory.write(ctx, ino, fh, Number(c.offset ?? 0), Buffer.from(String(c.data)));
          await memory.release(ctx, ino, fh);
          break;
        }
        case "rename": {
          const from = String(c.from);
          const to = String(c.to);
          await memory.rename(
            ctx,
            await resolvePath(memory, posix.dirname(from)),
            posix.basename(from),
            await resolvePath(memory, posix.dirname(to)),
            posix.basename(to),
            0,
          );
          break;
        }
        case "setxattr": {
          const ino = await resolvePath(memory, String(c.path));
          await memory.setxattr(ctx, ino, String(c.name), Buffer.from(String(c.value)), 0);
          break;
        }
        case "invalidate-inode":
          await mount.invalidateInode(await resolvePath(memory, String(c.path)), 0, 0);
          break;
        case "invalidate-entry":
          await mount.invalidateEntry(await resolvePath(memory, String(c.dir)), String(c.name));
          break;
        case "unmount":
          say({ ok: true });
          await leave(0);
          return;
        default:
          throw new Error(`unknown command ${c.cmd}`);
      }
      say({ ok: true });
    } catch (err) {
      say({ ok: false, error: (err as Error).message });
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
