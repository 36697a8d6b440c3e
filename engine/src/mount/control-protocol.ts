/**
 * The control socket's protocol: newline-delimited JSON, one request per connection, validated
 * with zod on the mount side. Answers are one JSON line, except `warm`, which streams
 * `{"progress": ...}` lines before its final answer. Paths are relative to the mount point.
 */
import { z } from "zod";

const relPath = z
  .string({ error: "path: expected a path relative to the mount point" })
  .refine((p) => !p.split("/").includes(".."), { error: "path: '..' is not allowed" });

export const controlRequestSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("stats") }),
  z.object({ op: z.literal("unmount"), force: z.boolean().default(false) }),
  z.object({ op: z.literal("pin"), path: relPath }),
  z.object({ op: z.literal("unpin"), path: relPath }),
  z.object({ op: z.literal("warm"), path: relPath }),
  z.object({
    op: z.literal("cache-resize"),
    bytes: z
      .number({ error: "bytes: expected a number of bytes" })
      .int()
      .min(1024 ** 3, { error: "bytes: expected at least 1 GiB" }),
  }),
  z.object({
    op: z.literal("snapshot"),
    action: z.enum(["create", "list", "delete"], { error: "action: expected create, list or delete" }),
    name: z.string().optional(),
  }),
]);

export type ControlRequest = z.input<typeof controlRequestSchema>;
export type ParsedControlRequest = z.output<typeof controlRequestSchema>;

export interface WarmProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export type ControlAnswer = { ok: true; [k: string]: unknown } | { ok: false; error: string; code?: string };
