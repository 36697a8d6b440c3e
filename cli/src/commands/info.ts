import type { FilespaceHeader } from "@filespaces/engine/format";
import { readHeader } from "@filespaces/engine/format";
import { Command } from "commander";
import { formatSize } from "../flags.js";
import { withStore } from "../store.js";

/** One line per key slot, in plain words; nothing here is secret. */
export function describeSlots(header: FilespaceHeader): string[] {
  return header.slots.map((slot) => {
    const kdf =
      slot.kdf.name === "scrypt"
        ? `scrypt N=2^${Math.log2(slot.kdf.N)} r=${slot.kdf.r} p=${slot.kdf.p}`
        : "HKDF-SHA256";
    const gens = slot.generations.map((g) => g.keyId).join(",");
    const label = slot.label ? ` "${slot.label}"` : "";
    return `${slot.id}  ${slot.kind.padEnd(10)}  ${kdf.padEnd(24)}  generations ${gens}  added ${slot.createdAt}${label}`;
  });
}

export function describeHeader(header: FilespaceHeader, where: string): string {
  const newest = header.generations.at(-1)!;
  return [
    `filespace ${header.filespaceId}`,
    `  store:            ${where}`,
    `  format:           version ${header.version}, created ${header.createdAt}`,
    `  encryption:       ${header.cipher} in ${formatSize(header.blockSize)} blocks, ${formatSize(header.chunkSize)} chunks`,
    `  compression:      ${header.compression === "none" ? "off" : header.compression} for new chunks`,
    `  key generations:  ${header.generations.map((g) => g.keyId).join(", ")} (new data uses ${newest.keyId}, since ${newest.createdAt})`,
    `  metadata key:     check value present (verifies the metadata service's key)`,
    `  key slots (${header.slots.length}):`,
    ...describeSlots(header).map((line) => `    ${line}`),
    "",
  ].join("\n");
}

export function infoCommand(): Command {
  return new Command("info")
    .description("describe a filespace from its header (needs no passphrase, shows no secrets)")
    .argument("<store-url>", "where the filespace lives")
    .option("--json", "print the header as JSON")
    .action(async (url: string, opts: { json?: boolean }) => {
      const { header } = await withStore(url, readHeader);
      process.stdout.write(opts.json ? `${JSON.stringify(header, null, 2)}\n` : describeHeader(header, url));
    });
}
