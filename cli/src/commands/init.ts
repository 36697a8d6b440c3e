import { DEFAULT_BLOCK_SIZE, DEFAULT_CHUNK_SIZE, DEFAULT_SCRYPT, type NewSlotSpec } from "@filespaces/engine";
import { createFilespace } from "@filespaces/engine/format";
import { Command } from "commander";
import { z } from "zod";
import { formatSize, parseFlags, sizeFlag } from "../flags.js";
import { readCredential, UNLOCK_SOURCES } from "../passphrase.js";
import { withStore } from "../store.js";

/** `--kdf-n`: scrypt cost, a power of two; below 2^14 is only for tests. */
export const kdfNFlag = z.coerce
  .number({ message: "expected a number" })
  .int("expected an integer")
  .min(2 ** 10, "expected at least 1024 (2^10)")
  .max(2 ** 22, "expected at most 4194304 (2^22)")
  .refine((n) => (n & (n - 1)) === 0, "expected a power of two such as 131072 (2^17)");

export const initFlags = z
  .object({
    chunkSize: sizeFlag.pipe(
      z
        .int()
        .min(4096, "expected at least 4KiB")
        .max(256 * 1024 * 1024, "expected at most 256MiB"),
    ),
    blockSize: sizeFlag.pipe(
      z
        .int()
        .min(4096, "expected at least 4KiB")
        .max(16 * 1024 * 1024, "expected at most 16MiB")
        .refine((n) => (n & (n - 1)) === 0, "expected a power of two such as 64KiB"),
    ),
    kdfN: kdfNFlag,
    compression: z.enum(["on", "off"], { message: "expected on or off" }),
    label: z.string().max(200, "expected at most 200 characters").optional(),
    passphraseFile: z.string().optional(),
    secretFile: z.string().optional(),
  })
  .refine((f) => f.chunkSize % f.blockSize === 0, {
    message: "expected a multiple of --block-size",
    path: ["chunkSize"],
  });

/** Turns a credential into the spec of a new key slot. */
export function slotSpec(
  credential: { passphrase: string } | { secret: Buffer },
  kdfN: number,
  label?: string,
): NewSlotSpec {
  const extra = label ? { label } : {};
  return "passphrase" in credential
    ? { kind: "passphrase", passphrase: credential.passphrase, scrypt: { ...DEFAULT_SCRYPT, N: kdfN }, ...extra }
    : { kind: "secret", secret: credential.secret, ...extra };
}

export function initCommand(): Command {
  return new Command("init")
    .description("create a new encrypted filespace in an object store (never overwrites one)")
    .argument("<store-url>", "file:///dir, memory://name, s3://bucket/prefix or azure://container/prefix")
    .option("--chunk-size <size>", "plaintext bytes per chunk object", formatSize(DEFAULT_CHUNK_SIZE).replace(" ", ""))
    .option(
      "--block-size <size>",
      "plaintext bytes per AEAD block (unit of range reads)",
      formatSize(DEFAULT_BLOCK_SIZE).replace(" ", ""),
    )
    .option("--kdf-n <n>", "scrypt cost N for a passphrase slot (power of two)", String(DEFAULT_SCRYPT.N))
    .option("--compression <on|off>", "compress new chunks by default", "off")
    .option("--label <text>", "a label for the first key slot")
    .option("--passphrase-file <file>", "read the passphrase from a file (else FILESPACE_PASSPHRASE, else prompt)")
    .option("--secret-file <file>", "protect the key with a raw secret (≥ 32 bytes) instead (or FILESPACE_SECRET)")
    .action(async (url: string, raw: unknown) => {
      const flags = parseFlags(initFlags, raw);
      const credential = await readCredential(flags, UNLOCK_SOURCES, { confirm: true });
      const { header } = await withStore(url, (store) =>
        createFilespace(store, {
          slot: slotSpec(credential, flags.kdfN, flags.label),
          chunkSize: flags.chunkSize,
          blockSize: flags.blockSize,
          compression: flags.compression === "on",
        }),
      );
      process.stdout.write(
        `created filespace ${header.filespaceId} at ${url}\n` +
          `  ${formatSize(header.chunkSize)} chunks, ${formatSize(header.blockSize)} blocks, key slot ${header.slots[0]!.id} (${header.slots[0]!.kind})\n` +
          "  keep the passphrase or secret safe: without it the data cannot be recovered\n",
      );
    });
}
