/**
 * `filespace meta serve` runs a filespace's metadata service; `filespace meta token` issues
 * access tokens for it (signed with a key derived from the service's at-rest key, so whoever
 * holds that key — the operator, an admin — can mint tokens offline).
 */
import { readFile } from "node:fs/promises";
import type { ObjectStore } from "@filespaces/engine";
import { FilespaceNotFoundError, readHeader, verifyMetaKey } from "@filespaces/engine/format";
import { issueToken } from "@filespaces/engine/meta/access";
import { deriveAccessTokenKey, startMetaServer } from "@filespaces/engine/meta/grpc";
import { Command } from "commander";
import { z } from "zod";
import { parseFlags, UsageError } from "../flags.js";
import { withStore } from "../store.js";
import { hostPortFlag } from "./snapshot.js";

/** Parses the at-rest key: base64 (as `filespace key meta-key` prints it) or 64 hex digits. */
export function parseMetaKey(text: string, source: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (key.length !== 32 || (!/^[0-9a-fA-F]{64}$/.test(t) && key.toString("base64") !== t)) {
    throw new UsageError(`${source}: expected a 32-byte key in base64 (see \`filespace key meta-key\`) or hex`);
  }
  return key;
}

async function readMetaKey(file: string | undefined): Promise<Buffer> {
  if (file) return parseMetaKey(await readFile(file, "utf8"), "--meta-key-file");
  const env = process.env.FILESPACE_META_KEY;
  if (env) return parseMetaKey(env, "FILESPACE_META_KEY");
  throw new UsageError("--meta-key-file: the service's at-rest key is needed (or set FILESPACE_META_KEY)");
}

/** A wrong key would only surface as an authentication failure deep in recovery: check it first. */
async function checkMetaKey(store: ObjectStore, metaKey: Buffer, log: (line: string) => void): Promise<void> {
  try {
    verifyMetaKey((await readHeader(store)).header, metaKey);
  } catch (err) {
    if (!(err instanceof FilespaceNotFoundError)) throw err;
    log("no filespace.json in this store (not created with `filespace init`); the key cannot be checked up front");
  }
}

const msFlag = z.coerce.number().int().positive("expected a positive number of milliseconds");

const serveFlags = z
  .object({
    listen: hostPortFlag,
    http: hostPortFlag.optional(),
    metaKeyFile: z.string().optional(),
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    cacheDir: z.string().optional(),
    takeover: z.boolean().optional(),
    leaseTtl: msFlag,
    drainTimeout: msFlag,
  })
  .refine((f) => !f.tlsCert === !f.tlsKey, { message: "give --tls-cert and --tls-key together", path: ["tlsCert"] });

function serveCommand(): Command {
  return new Command("serve")
    .description("serve a filespace's metadata over gRPC (recovers from the store, takes the lease)")
    .argument("<store-url>")
    .requiredOption("--listen <host:port>", "gRPC address (port 0 picks a free one; the bound one is printed)")
    .option("--http <host:port>", "ops endpoint: /healthz /readyz /metrics")
    .option("--meta-key-file <file>", "the service's at-rest key (else FILESPACE_META_KEY)")
    .option("--tls-cert <file>", "serve TLS with this certificate chain (PEM)")
    .option("--tls-key <file>", "private key for --tls-cert (PEM)")
    .option("--cache-dir <dir>", "local cache of journal/checkpoint objects (only a cache)")
    .option("--takeover", "take over the lease of a crashed service once it expires")
    .option("--lease-ttl <ms>", "a service that stops renewing is presumed dead after this long", "30000")
    .option("--drain-timeout <ms>", "on SIGTERM, wait this long for calls in flight", "10000")
    .action(async (url: string, raw: unknown) => {
      const flags = parseFlags(serveFlags, raw);
      const metaKey = await readMetaKey(flags.metaKeyFile);
      const tls =
        flags.tlsCert && flags.tlsKey
          ? { cert: await readFile(flags.tlsCert), key: await readFile(flags.tlsKey) }
          : undefined;
      await withStore(url, async (store) => {
        const log = (line: string) => process.stderr.write(`filespace meta: ${line}\n`);
        await checkMetaKey(store, metaKey, log);
        const server = await startMetaServer({
          store,
          metaKey,
          listen: flags.listen,
          leaseTtlMs: flags.leaseTtl,
          log,
          ...(flags.http ? { http: flags.http } : {}),
          ...(tls ? { tls } : {}),
          ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
          ...(flags.takeover ? { takeover: true } : {}),
        });
        const { epoch, recovery } = server.durable;
        process.stdout.write(
          `serving filespace metadata on ${server.grpc.address} (epoch ${epoch}, version ${server.durable.machine.version}, ` +
            `recovered in ${Math.round(server.startupMs)} ms, ${recovery.recordsReplayed} records replayed)` +
            `${server.ops ? `; ops on http://${server.ops.address}` : ""}\n`,
        );
        const outcome = await new Promise<Error | undefined>((resolve) => {
          process.once("SIGTERM", () => resolve(undefined));
          process.once("SIGINT", () => resolve(undefined));
          server.failed.then(resolve);
        });
        if (outcome) {
          await server.stop(1000).catch(() => undefined);
          throw new Error(`metadata service stopped: ${outcome.message}`, { cause: outcome });
        }
        log("draining");
        await server.stop(flags.drainTimeout);
        log("stopped; lease released");
      });
    });
}

const tokenFlags = z.object({
  metaKeyFile: z.string().optional(),
  mode: z.enum(["ro", "rw", "admin"], { message: "expected ro, rw or admin" }),
  client: z.string().min(1, "expected a client name").max(256),
  subtree: z.coerce.number().int().positive("expected an inode number (1 = the whole filespace)"),
  ttl: msFlag.optional(),
});

function tokenCommand(): Command {
  return new Command("token")
    .description("issue an access token for the metadata service (prints it)")
    .option("--meta-key-file <file>", "the service's at-rest key (else FILESPACE_META_KEY)")
    .option("--mode <ro|rw|admin>", "rights of the token", "rw")
    .option("--client <name>", "who the token is for (shown in logs and sessions)", "cli")
    .option("--subtree <ino>", "confine the token to this directory inode", "1")
    .option("--ttl <ms>", "expire the token after this long (default: never)")
    .action(async (raw: unknown) => {
      const flags = parseFlags(tokenFlags, raw);
      const key = deriveAccessTokenKey(await readMetaKey(flags.metaKeyFile));
      const claims = {
        client: flags.client,
        mode: flags.mode,
        subtreeRoot: flags.subtree,
        ...(flags.ttl ? { expiresAt: Date.now() + flags.ttl } : {}),
      };
      try {
        process.stdout.write(`${issueToken(key, claims)}\n`);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    });
}

export function metaCommand(): Command {
  return new Command("meta")
    .description("the metadata service: serve it, issue access tokens")
    .addCommand(serveCommand())
    .addCommand(tokenCommand());
}
