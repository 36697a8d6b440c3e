/**
 * `filespace mount -o KEY=VALUE`: the data path's knobs (engine/src/data/config.ts, documented in
 * docs/data-path.md) for the rare mount that needs them, e.g. `-o prefetchConcurrency=32` for a
 * link with a large bandwidth × delay product. Keys are checked here (a misspelt knob must not be
 * ignored silently) and values by the engine's own schema, so the message names the knob.
 */
import { dataPathConfigSchema } from "@filespaces/engine/data";
import { parseSize, UsageError } from "../flags.js";

/** Knobs that have their own flag or come from the filespace itself. */
const NOT_HERE: Record<string, string> = {
  diskCacheBytes: "use --cache-size",
  chunkBytes: "fixed by the filespace (filespace init --chunk-size)",
  maxBacklogBytes: "use --max-backlog",
  backlogFullWaitMs: "use --backlog-wait",
  fetchWorkers: "use --fetch-workers",
};

/** commander's collector for a repeatable `-o`. */
export function collectOption(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `["prefetchConcurrency=16", "memoryDropBehind=false"]` → validated knobs. */
export function parseTuning(options: string[]): Record<string, number | boolean> {
  const known = Object.keys(dataPathConfigSchema.shape);
  const out: Record<string, number | boolean> = {};
  for (const option of options) {
    const eq = option.indexOf("=");
    if (eq <= 0) throw new UsageError(`-o: expected KEY=VALUE, got ${JSON.stringify(option)}`);
    const key = option.slice(0, eq).trim();
    const text = option.slice(eq + 1).trim();
    if (NOT_HERE[key]) throw new UsageError(`-o ${key}: ${NOT_HERE[key]}`);
    if (!known.includes(key))
      throw new UsageError(`-o ${key}: unknown knob; expected one of ${known.filter((k) => !NOT_HERE[k]).join(", ")}`);
    const value = text === "true" ? true : text === "false" ? false : parseSize(text);
    if (value === undefined)
      throw new UsageError(
        `-o ${key}: expected a number, a size such as 16MiB, true or false, got ${JSON.stringify(text)}`,
      );
    out[key] = value;
  }
  const checked = dataPathConfigSchema.partial().safeParse(out);
  if (!checked.success) throw new UsageError(`-o ${checked.error.issues[0]!.message}`);
  return out;
}
