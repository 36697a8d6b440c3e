/**
 * `filespace snapshot create|list|delete` against a running metadata service (gRPC, `--meta`;
 * needs an admin access token: `--token` or FILESPACE_META_TOKEN) or through a running mount
 * (a mount point as the last argument: its control socket). Snapshots are O(1) on the service.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { CallContext, SnapshotInfo } from "@filespaces/engine/meta";
import { MetaClient } from "@filespaces/engine/meta/grpc";
import { type ControlRequest, controlRequest, findMount } from "@filespaces/engine/mount";
import { Command } from "commander";
import { z } from "zod";
import { parseFlags } from "../flags.js";

export const hostPortFlag = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "expected HOST:PORT, e.g. 127.0.0.1:7070");

const connectFlags = z.object({
  meta: hostPortFlag,
  token: z.string().min(1, "expected an access token (or set FILESPACE_META_TOKEN)"),
  tlsCa: z.string().optional(),
  timeout: z.coerce.number().int().positive("expected a positive number of milliseconds"),
});

const snapshotName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
    "expected letters, digits and . _ : - (starting with a letter or digit)",
  );

function withConnectOptions(command: Command): Command {
  return command
    .option("--meta <host:port>", "address of the metadata service (or give a mount point)")
    .option("--token <token>", "access token (admin for create/delete; default FILESPACE_META_TOKEN)")
    .option("--tls-ca <file>", "connect with TLS, trusting this CA certificate (PEM)")
    .option("--timeout <ms>", "give up after this long if the service stays unreachable", "15000");
}

/** Connects, runs `fn`, closes. */
export async function withMetaClient<T>(
  raw: Record<string, unknown>,
  fn: (client: MetaClient, ctx: CallContext) => Promise<T>,
): Promise<T> {
  const flags = parseFlags(connectFlags, { ...raw, token: raw.token ?? process.env.FILESPACE_META_TOKEN ?? "" });
  const tls = flags.tlsCa ? { ca: await readFile(flags.tlsCa) } : undefined;
  const client = new MetaClient({
    address: flags.meta,
    retryBudgetMs: flags.timeout,
    callTimeoutMs: flags.timeout,
    ...(tls ? { tls } : {}),
  });
  try {
    return await fn(client, { token: flags.token });
  } finally {
    client.close();
  }
}

/** Through the control socket of the mount holding `dir`. */
async function viaMount(dir: string, req: ControlRequest): Promise<Record<string, unknown>> {
  const found = findMount(dir);
  const a = await controlRequest(found.socket, req);
  if (!a.ok) throw new Error(a.error);
  return a;
}

function parseName(name: string): string {
  return parseFlags(z.object({ name: snapshotName }), { name }).name;
}

export function snapshotCommand(): Command {
  const create = withConnectOptions(new Command("create"))
    .description("create a snapshot (a name bound to the current version; O(1))")
    .argument("<name>")
    .argument("[mountpoint]", "a running mount of the filespace (instead of --meta)")
    .action(async (name: string, dir: string | undefined, raw: Record<string, unknown>) => {
      const valid = parseName(name);
      const info = dir
        ? ((await viaMount(dir, { op: "snapshot", action: "create", name: valid })).snapshot as SnapshotInfo)
        : await withMetaClient(raw, (c, ctx) => c.createSnapshot(ctx, { requestId: randomUUID(), name: valid }));
      process.stdout.write(`created snapshot ${info.name} at version ${info.version}\n`);
    });
  const list = withConnectOptions(new Command("list"))
    .description("list snapshots, oldest first")
    .option("--json", "print JSON")
    .argument("[mountpoint]", "a running mount of the filespace (instead of --meta)")
    .action(async (dir: string | undefined, raw: Record<string, unknown>) => {
      const { snapshots } = dir
        ? ((await viaMount(dir, { op: "snapshot", action: "list" })) as unknown as { snapshots: SnapshotInfo[] })
        : await withMetaClient(raw, (c, ctx) => c.listSnapshots(ctx));
      const sorted = [...snapshots].sort((a, b) => a.version - b.version || a.name.localeCompare(b.name));
      if (raw.json) {
        process.stdout.write(`${JSON.stringify(sorted, null, 2)}\n`);
        return;
      }
      const rows = sorted.map((s) => [
        s.name,
        String(s.version),
        new Date(s.createdAt).toISOString(),
        s.schedule ?? "-",
      ]);
      const table = [["NAME", "VERSION", "CREATED", "SCHEDULE"], ...rows];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
      for (const row of table)
        process.stdout.write(
          `${row
            .map((c, i) => c.padEnd(widths[i]!))
            .join("  ")
            .trimEnd()}\n`,
        );
    });
  const remove = withConnectOptions(new Command("delete"))
    .description("delete a snapshot (its chunks become garbage unless still referenced)")
    .argument("<name>")
    .argument("[mountpoint]", "a running mount of the filespace (instead of --meta)")
    .action(async (name: string, dir: string | undefined, raw: Record<string, unknown>) => {
      const valid = parseName(name);
      if (dir) await viaMount(dir, { op: "snapshot", action: "delete", name: valid });
      else await withMetaClient(raw, (c, ctx) => c.deleteSnapshot(ctx, { requestId: randomUUID(), name: valid }));
      process.stdout.write(`deleted snapshot ${valid}\n`);
    });
  return new Command("snapshot")
    .description("create, list and delete snapshots (of a `filespace meta serve` service or a running mount)")
    .addCommand(create)
    .addCommand(list)
    .addCommand(remove);
}
