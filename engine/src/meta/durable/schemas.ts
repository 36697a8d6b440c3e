/**
 * zod schemas for what the durability layer reads back from the store (authenticated, but
 * possibly written by another format version) and for its options. A mismatch names the field.
 */
import { z } from "zod";
import { IntegrityError } from "../../crypto/errors.js";

const count = z.number().int().nonnegative();

export const segmentHeaderSchema = z.object({
  epoch: count,
  seq: count,
  writer: z.string().min(1),
  epochStartSeq: count,
  baseVersion: count,
  count,
});

export const checkpointHeaderSchema = z.object({
  version: count,
  epoch: count,
  fromSeq: count,
  createdAt: z.string(),
});

export const leaseRecordSchema = z.object({
  holder: z.object({ host: z.string(), pid: z.number().int(), instanceId: z.string().min(1), since: z.string() }),
  epoch: count,
  renewedAt: z.number(),
  ttlMs: z.number().positive(),
  released: z.boolean(),
});

/** Parse JSON bytes read from the store against `schema`; IntegrityError naming the field otherwise. */
export function parseStored<T>(schema: z.ZodType<T>, what: string, bytes: Buffer): T {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString());
  } catch (cause) {
    throw new IntegrityError(`${what}: not JSON`, { cause });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new IntegrityError(`${what}: field "${issue?.path.join(".")}": ${issue?.message}`);
  }
  return parsed.data;
}

const positive = z.number().int().positive();
export const journalOptionsSchema = z.object({
  maxBatchRecords: positive.optional(),
  maxBatchBytes: positive.optional(),
  checkpointEveryRecords: positive.optional(),
  checkpointIntervalMs: z.number().int().nonnegative().optional(),
  keepCheckpoints: positive.optional(),
  putAttempts: positive.optional(),
  checkpointOnClose: z.boolean().optional(),
  putTimeoutMs: positive.optional(),
  prefix: z
    .string()
    .regex(/^$|\/$/, 'expected "" or a prefix ending in "/"')
    .optional(),
  cacheDir: z.string().min(1).optional(),
  recoveryConcurrency: positive.optional(),
  lease: z
    .object({
      ttlMs: positive.optional(),
      renewEveryMs: positive.optional(),
      takeover: z.boolean().optional(),
      settleMs: z.number().int().nonnegative().optional(),
    })
    .optional(),
});

/** Validate durability options (numbers that must be positive integers etc.); RangeError naming the field. */
export function validateOptions(options: unknown): void {
  const parsed = journalOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RangeError(`durable metadata option "${issue?.path.join(".")}": ${issue?.message}`);
  }
}
