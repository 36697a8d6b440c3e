/**
 * The delay proxy as a child process (its own event loop, so forwarding never competes with
 * the harness or with a client for CPU time), with a way to read its byte counters.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sleep, startService } from "./procs.mjs";

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "delay-proxy.mjs");

/** Starts a proxy to `target` ({host, port}); returns { host, port, pid, totals() }. */
export async function startProxyProcess(label, target, { delayMs, rateMiBps, cpus }) {
  const args = [script, "--target", `${target.host}:${target.port}`, "--delay-ms", String(delayMs)];
  if (rateMiBps) args.push("--rate-mibps", String(rateMiBps));
  const p = await startService(label, process.execPath, args, { ready: /listening on/, cpus });
  const port = Number(/listening on [^:]+:(\d+)/.exec(p.output())[1]);
  const readings = () => [...p.output().matchAll(/stats up=(\d+) down=(\d+)/g)];
  return {
    host: "127.0.0.1",
    port,
    pid: p.child.pid,
    /** Bytes forwarded so far: { up: client→service, down: service→client }. */
    async totals() {
      const before = readings().length;
      process.kill(p.child.pid, "SIGUSR2");
      for (let i = 0; i < 100; i++) {
        await sleep(20);
        const all = readings();
        if (all.length > before) return { up: Number(all.at(-1)[1]), down: Number(all.at(-1)[2]) };
      }
      return { up: Number.NaN, down: Number.NaN };
    },
  };
}

/** Starts counting; the returned function gives MiB { up, down } since then. */
export async function meterOf(proxy) {
  const a = await proxy.totals();
  return async () => {
    const b = await proxy.totals();
    return { up: (b.up - a.up) / 1024 / 1024, down: (b.down - a.down) / 1024 / 1024 };
  };
}
