import { writeFile } from "node:fs/promises";
import { DEFAULT_SCRYPT, deriveMetaAtRestKey, type ObjectStore } from "@filespaces/engine";
import {
  addKeySlot,
  type OpenedFilespace,
  openFilespace,
  readHeader,
  removeKeySlot,
  rotateKey,
} from "@filespaces/engine/format";
import { Command } from "commander";
import { z } from "zod";
import { parseFlags } from "../flags.js";
import { NEW_KEY_SOURCES, readCredential, UNLOCK_SOURCES } from "../passphrase.js";
import { withStore } from "../store.js";
import { describeSlots } from "./info.js";
import { kdfNFlag, slotSpec } from "./init.js";

const unlockFlags = z.object({
  passphraseFile: z.string().optional(),
  secretFile: z.string().optional(),
  slot: z
    .string()
    .regex(/^[0-9a-f]{12}$/, "expected a 12-hex-digit slot id (see `filespace key list`)")
    .optional(),
});

function withUnlockOptions(command: Command): Command {
  return command
    .option(
      "--passphrase-file <file>",
      "unlock with the passphrase in this file (else FILESPACE_PASSPHRASE, else prompt)",
    )
    .option("--secret-file <file>", "unlock with the raw secret in this file (or FILESPACE_SECRET)")
    .option("--slot <id>", "try only this key slot (saves a slow scrypt run per other slot)");
}

async function unlock(store: ObjectStore, raw: unknown): Promise<OpenedFilespace> {
  const flags = parseFlags(unlockFlags, raw);
  const credential = await readCredential(flags, UNLOCK_SOURCES);
  return openFilespace(store, flags.slot ? { ...credential, slotId: flags.slot } : credential);
}

const addFlags = unlockFlags.extend({
  kind: z.enum(["passphrase", "secret"], { message: "expected passphrase or secret" }),
  label: z.string().max(200, "expected at most 200 characters").optional(),
  kdfN: kdfNFlag,
  newPassphraseFile: z.string().optional(),
  newSecretFile: z.string().optional(),
});

function addCommand(): Command {
  return withUnlockOptions(new Command("add"))
    .description("add a key slot (a passphrase or a raw secret) that opens every key generation")
    .argument("<store-url>")
    .option("--kind <passphrase|secret>", "what the new slot is opened with", "passphrase")
    .option("--label <text>", "a label for the new slot, e.g. who holds it")
    .option("--kdf-n <n>", "scrypt cost N for a passphrase slot (power of two)", String(DEFAULT_SCRYPT.N))
    .option("--new-passphrase-file <file>", "the new passphrase (else FILESPACE_NEW_PASSPHRASE, else prompt twice)")
    .option("--new-secret-file <file>", "the new raw secret, ≥ 32 bytes (or FILESPACE_NEW_SECRET)")
    .action(async (url: string, raw: unknown) => {
      const flags = parseFlags(addFlags, raw);
      await withStore(url, async (store) => {
        const opened = await unlock(store, raw);
        const sources = { passphraseFile: flags.newPassphraseFile, secretFile: flags.newSecretFile };
        const credential = await readCredential(sources, NEW_KEY_SOURCES, { confirm: true, kind: flags.kind });
        const { slotId } = await addKeySlot(store, opened, slotSpec(credential, flags.kdfN, flags.label));
        process.stdout.write(`added ${flags.kind} key slot ${slotId}\n`);
      });
    });
}

function removeCommand(): Command {
  return withUnlockOptions(new Command("remove"))
    .description("remove a key slot, then rotate so its holder cannot read new data")
    .argument("<store-url>")
    .argument("<slot-id>", "the slot to remove (see `filespace key list`)")
    .option("--no-rotate", "only delete the slot; its holder can still read data written later")
    .action(async (url: string, slotId: string, raw: { rotate: boolean }) => {
      await withStore(url, async (store) => {
        let opened = await removeKeySlot(store, await unlock(store, raw), slotId);
        let note = "without rotating: its holder may still read data written from now on";
        if (raw.rotate) {
          opened = await rotateKey(store, opened);
          note = `rotated to key generation ${opened.keyring.currentKeyId}: new data is out of its reach`;
        }
        process.stdout.write(`removed key slot ${slotId}; ${note}\n`);
      });
    });
}

function rotateCommand(): Command {
  return withUnlockOptions(new Command("rotate"))
    .description("start a new key generation for new data, sealed to every key slot")
    .argument("<store-url>")
    .action(async (url: string, raw: unknown) => {
      await withStore(url, async (store) => {
        const { keyId } = await rotateKey(store, await unlock(store, raw));
        process.stdout.write(`new data is now sealed with key generation ${keyId}; older data stays readable\n`);
      });
    });
}

function listCommand(): Command {
  return new Command("list")
    .description("list key slots (needs no passphrase)")
    .argument("<store-url>")
    .action(async (url: string) => {
      const { header } = await withStore(url, readHeader);
      process.stdout.write(`${describeSlots(header).join("\n")}\n`);
    });
}

function metaKeyCommand(): Command {
  return withUnlockOptions(new Command("meta-key"))
    .description("print (or write to a file) the metadata service's at-rest key; it opens no data or names")
    .argument("<store-url>")
    .option("--out <file>", "write the key (base64) to this file, mode 0600, instead of stdout")
    .action(async (url: string, raw: { out?: string }) => {
      const opened = await withStore(url, (store) => unlock(store, raw));
      const key = `${deriveMetaAtRestKey(opened.keyring).toString("base64")}\n`;
      if (raw.out) await writeFile(raw.out, key, { mode: 0o600 });
      else process.stdout.write(key);
    });
}

export function keyCommand(): Command {
  return new Command("key")
    .description("manage the keys of a filespace: slots (passphrases, secrets) and key generations")
    .addCommand(listCommand())
    .addCommand(addCommand())
    .addCommand(removeCommand())
    .addCommand(rotateCommand())
    .addCommand(metaKeyCommand());
}
