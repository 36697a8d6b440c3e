/**
 * Flag validation shared by commands: zod schemas keyed by option name, and errors that
 * name the flag (`--chunk-size: expected a size such as 4MiB`).
 */
import { z } from "zod";

/** A command-line mistake: printed as is, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Parses `4MiB`, `64k`, `65536` (binary units, case-insensitive); undefined if malformed. */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) return undefined;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A size flag: accepts `4MiB`-style text, yields bytes. */
export const sizeFlag = z.string().transform((text, ctx) => {
  const bytes = parseSize(text);
  if (bytes === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `expected a size such as 4MiB, 64KiB or 65536, got ${JSON.stringify(text)}`,
    });
    return z.NEVER;
  }
  return bytes;
});

/** Validates commander's option object; the first problem becomes a UsageError naming the flag. */
export function parseFlags<S extends z.ZodType>(schema: S, options: unknown): z.infer<S> {
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = String(issue.path[0] ?? "");
  const flag = key ? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : "options";
  throw new UsageError(`${flag}: ${issue.message}`);
}

/** Human-readable binary size (4 MiB, 64 KiB, 1000 B). */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (bytes >= size && bytes % (size / 1024) === 0) return `${+(bytes / size).toFixed(2)} ${unit}`;
  }
  return `${bytes} B`;
}
