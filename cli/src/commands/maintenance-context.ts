/**
 * What `filespace fsck` and `filespace gc` share: unlocking the filespace (the keyring
 * authenticates chunks and yields the metadata service's at-rest key), and finding out which
 * chunks are referenced — from the running service (`--meta HOST:PORT`, admin token minted
 * from the at-rest key unless `--token` is given) or, without one, by recovering the metadata
 * read-only from the store (refused while a service holds the filespace).
 */
import { readFile } from "node:fs/promises";
import { deriveMetaAtRestKey, type Keyring, type ObjectStore } from "@filespaces/engine";
import { AtRestCipher } from "@filespaces/engine/crypto";
import type { FilespaceHeader } from "@filespaces/engine/format";
import { openFilespace } from "@filespaces/engine/format";
import { issueToken } from "@filespaces/engine/meta/access";
import type { SealedStore } from "@filespaces/engine/meta/durable";
import type { ChunkReference } from "@filespaces/engine/meta/fsck";
import { deriveAccessTokenKey, MetaClient } from "@filespaces/engine/meta/grpc";
import { openMetadataOffline } from "@filespaces/engine/meta/maintenance";
import type { Command } from "commander";
import { z } from "zod";
import { UsageError } from "../flags.js";
import { readCredential, UNLOCK_SOURCES } from "../passphrase.js";
import { hostPortFlag } from "./snapshot.js";

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `1h`, `30m`, `90s`, `500ms`, `2d` or plain milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNITS_MS[(m[2] ?? "ms").toLowerCase()]!;
  return Number.isSafeInteger(Math.round(ms)) ? Math.round(ms) : undefined;
}

export const durationFlag = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `expected a duration such as 1h, 30m, 90s or 0, got ${JSON.stringify(text)}`,
    });
    return z.NEVER;
  }
  return ms;
});

export const connectFlags = {
  meta: z.union([z.literal("embedded"), hostPortFlag]).default("embedded"),
  token: z.string().min(1).optional(),
  tlsCa: z.string().optional(),
  passphraseFile: z.string().optional(),
  secretFile: z.string().optional(),
};

export const maintenanceFlags = { ...connectFlags, grace: durationFlag };

export function withMaintenanceOptions(command: Command): Command {
  return withConnectOptions(command).option(
    "--grace <duration>",
    "unreferenced chunks younger than this may be uploads in flight: kept",
    "1h",
  );
}

/** `<store-url>`, `--meta`, `--token`, `--tls-ca` and the unlock sources. */
export function withConnectOptions(command: Command): Command {
  return command
    .argument("<store-url>", "where the filespace lives")
    .option(
      "--meta <host:port|embedded>",
      "ask this running metadata service for references; `embedded` (default) reads the metadata " +
        "from the store, refused while a service holds it",
      "embedded",
    )
    .option("--token <token>", "admin token for --meta (default: minted from the filespace key)")
    .option("--tls-ca <file>", "connect to --meta with TLS, trusting this CA (PEM)")
    .option("--passphrase-file <file>", "unlock with this passphrase (else FILESPACE_PASSPHRASE, else a prompt)")
    .option("--secret-file <file>", "unlock with this secret (else FILESPACE_SECRET)");
}

export interface MaintenanceContext {
  header: FilespaceHeader;
  keyring: Keyring;
  /** Sealed metadata objects (checkpoints, journal) for checkMetadata. */
  sealed: SealedStore;
  /** Where the references came from, for the report. */
  source: string;
  /**
   * Referenced chunks and the metadata version they are consistent with; ranges are known only
   * when read offline (the API lists ids). Fetched when called, so GC and fsck can list the
   * store first (see gc/collect.ts for why that order matters with a live service).
   */
  loadReferences(): Promise<{ version: number; references: ChunkReference[] }>;
  close(): void;
}

export type ConnectFlags = { meta: string; token?: string | undefined; tlsCa?: string | undefined } & {
  passphraseFile?: string | undefined;
  secretFile?: string | undefined;
};

/** Unlocks the filespace: its header, keyring and the metadata service's at-rest key. */
export async function unlockFilespace(store: ObjectStore, flags: ConnectFlags) {
  const credential = await readCredential(flags, UNLOCK_SOURCES);
  const { header, keyring } = await openFilespace(store, credential);
  return { header, keyring, metaKey: deriveMetaAtRestKey(keyring) };
}

/** A gRPC client for `--meta` and the token to use (`--token`, else an admin token minted from the key). */
export async function connectMeta(
  flags: ConnectFlags,
  metaKey: Buffer,
): Promise<{ client: MetaClient; token: string }> {
  const client = new MetaClient({
    address: flags.meta,
    callTimeoutMs: 60_000,
    retryBudgetMs: 15_000,
    ...(flags.tlsCa ? { tls: { ca: await readFile(flags.tlsCa) } } : {}),
  });
  const token =
    flags.token ??
    issueToken(deriveAccessTokenKey(metaKey), { client: "filespace-maintenance", mode: "admin", subtreeRoot: 1 });
  return { client, token };
}

/** A MetadataInUseError from the engine is a usage problem here (the fix is `--meta`). */
export function asUsageError(err: Error): never {
  if (err.name === "MetadataInUseError") throw new UsageError(err.message, { cause: err });
  throw err;
}

export async function openMaintenanceContext(
  store: ObjectStore,
  flags: ConnectFlags,
  unlocked?: Awaited<ReturnType<typeof unlockFilespace>>,
): Promise<MaintenanceContext> {
  const { header, keyring, metaKey } = unlocked ?? (await unlockFilespace(store, flags));
  if (flags.meta === "embedded") {
    const { namespace, sealed } = await openMetadataOffline({ store, metaKey }).catch(asUsageError);
    return {
      header,
      keyring,
      sealed,
      source: "metadata read from the store (no service running)",
      loadReferences: async () => ({ version: namespace.version, references: namespace.chunkUsage() }),
      close: () => undefined,
    };
  }
  const { client, token } = await connectMeta(flags, metaKey);
  return {
    header,
    keyring,
    sealed: { store, cipher: new AtRestCipher(metaKey), prefix: "" },
    source: `metadata service at ${flags.meta}`,
    loadReferences: async () => {
      const { version, chunks } = await client.chunkReferences({ token });
      return { version, references: chunks.map((chunkId) => ({ chunkId, ranges: [] })) };
    },
    close: () => client.close(),
  };
}
