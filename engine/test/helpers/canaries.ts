/**
 * `scanForCanaries(dir, canaries)`: searches every file under `dir` (and every path name) for
 * each canary in the forms a leak could take — plain UTF-8, base64 at all three byte
 * alignments, base64url, hex (lower/upper), UTF-16 (LE/BE) — and also inside anything that
 * inflates (zlib, gzip, brotli, deflate-raw) when decompressed from the start of the file or
 * from any offset on a `step`-byte grid. Reusable for the store, the journal, the disk cache
 * and the write-back log: all of them must hold only ciphertext.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { brotliDecompressSync, constants, gunzipSync, inflateRawSync, inflateSync } from "node:zlib";

export interface CanaryFinding {
  /** Path relative to the scanned directory. */
  file: string;
  canary: string;
  /** e.g. "plain", "base64+1", "hex-upper", "utf16le", "gzip@0:plain", "path". */
  form: string;
}

export interface ScanOptions {
  /** Grid for trying decompression inside files (bytes). Smaller = slower, more thorough. */
  step?: number;
}

// Sync flush: a stream cut short or followed by other bytes still yields what it decoded.
const lenient = { maxOutputLength: 64 << 20, finishFlush: constants.Z_SYNC_FLUSH };
const INFLATERS: Array<[string, (b: Buffer) => Buffer]> = [
  ["zlib", (b) => inflateSync(b, lenient)],
  ["gzip", (b) => gunzipSync(b, lenient)],
  [
    "brotli",
    (b) => brotliDecompressSync(b, { maxOutputLength: 64 << 20, finishFlush: constants.BROTLI_OPERATION_FLUSH }),
  ],
  ["deflate-raw", (b) => inflateRawSync(b, lenient)],
];

/** Every byte pattern a canary may leak as, each with its form name. */
export function canaryForms(canary: string): Array<[string, Buffer]> {
  const bytes = Buffer.from(canary, "utf8");
  const forms: Array<[string, Buffer]> = [
    ["plain", bytes],
    ["hex", Buffer.from(bytes.toString("hex"))],
    ["hex-upper", Buffer.from(bytes.toString("hex").toUpperCase())],
    ["utf16le", Buffer.from(canary, "utf16le")],
    ["utf16be", Buffer.from(canary, "utf16le").swap16()],
  ];
  // base64 of the canary when it starts at byte offset 0, 1 or 2 of a 3-byte group: keep only
  // the characters that depend on canary bytes alone.
  for (const shift of [0, 1, 2]) {
    const body = Buffer.concat([Buffer.alloc(shift), bytes]);
    const firstGroup = shift === 0 ? 0 : 3;
    const lastGroupEnd = Math.floor(body.length / 3) * 3;
    const text = body.subarray(firstGroup, lastGroupEnd).toString("base64");
    forms.push([`base64+${shift}`, Buffer.from(text)]);
    forms.push([`base64url+${shift}`, Buffer.from(text.replace(/\+/g, "-").replace(/\//g, "_"))]);
  }
  return forms;
}

/** Finds canaries in one buffer (no decompression). */
export function findCanariesIn(data: Buffer, canaries: string[]): Array<{ canary: string; form: string }> {
  const found: Array<{ canary: string; form: string }> = [];
  for (const canary of canaries) {
    for (const [form, pattern] of canaryForms(canary)) {
      if (data.includes(pattern)) found.push({ canary, form });
    }
  }
  return found;
}

export async function scanForCanaries(
  dir: string,
  canaries: string[],
  options: ScanOptions = {},
): Promise<CanaryFinding[]> {
  const step = options.step ?? 1024;
  const findings: CanaryFinding[] = [];
  // A live mount renames temp files while we walk: a file that vanished before it was read is
  // skipped, and the tree is walked again for names that appeared meanwhile (its new name).
  const scanned = new Set<string>();
  for (let pass = 0; pass < 5; pass++) {
    const fresh = (await walk(dir)).filter((p) => !scanned.has(p));
    if (fresh.length === 0) break;
    for (const path of fresh) {
      scanned.add(path);
      await scanFile(dir, path, canaries, step, findings);
    }
  }
  return findings;
}

async function scanFile(
  dir: string,
  path: string,
  canaries: string[],
  step: number,
  findings: CanaryFinding[],
): Promise<void> {
  const file = relative(dir, path);
  for (const hit of findCanariesIn(Buffer.from(file), canaries))
    findings.push({ file, ...hit, form: `path:${hit.form}` });
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  for (const hit of findCanariesIn(data, canaries)) findings.push({ file, ...hit });
  for (let offset = 0; offset < data.length; offset += step) {
    for (const [name, inflate] of INFLATERS) {
      let inflated: Buffer;
      try {
        inflated = inflate(data.subarray(offset));
      } catch {
        continue;
      }
      for (const hit of findCanariesIn(inflated, canaries))
        findings.push({ file, ...hit, form: `${name}@${offset}:${hit.form}` });
    }
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return []; // removed while we walked
    throw err;
  });
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}
