/**
 * The configuration of an S3 store, and how an `s3://` URL becomes one:
 * `s3://bucket/prefix?endpoint=http://host:port&region=us-east-1&pathStyle=true[&conditionalPut=true][&leanGets=false]`
 *
 * Conditional put is off by default: s3rver and several S3-compatibles silently ignore
 * If-None-Match/If-Match, which would turn fencing into a lie. `conditionalPut=true` opts
 * in for stores known to honour it (AWS S3 does since 2024, for PutObject and
 * CompleteMultipartUpload).
 */
import { z } from "zod";
import { normalizePrefix } from "./keys.js";
import { type OpenObjectStoreOptions, queryOf, urlPartError } from "./registry.js";
import type { WarmOptions } from "./warm-agent.js";

export interface S3ObjectStoreConfig {
  bucket: string;
  /** '' or ending in '/'. */
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  conditionalPut: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  requestTimeoutMs?: number;
  /** Bounds of the warm connection `preconnect()` opens (see warm-agent.ts). */
  warm?: WarmOptions;
  /** Ranged GETs over the lean client (default true); false: through the SDK's handler. */
  leanRangeGets?: boolean;
  /** An extra trust root for an https endpoint (a self-signed test server). */
  ca?: string | Buffer;
}

/**
 * Where the SDK will connect for this bucket (the warm agent learns the real one from the first
 * request; this lets a fresh client, e.g. a fetch worker's, warm before it has sent anything).
 */
export function storeOrigin(config: S3ObjectStoreConfig): { host: string; port: number } {
  if (config.endpoint) {
    const url = new URL(config.endpoint);
    const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
    return { host: config.forcePathStyle ? url.hostname : `${config.bucket}.${url.hostname}`, port };
  }
  const host = `s3.${config.region}.amazonaws.com`;
  return { host: config.forcePathStyle ? host : `${config.bucket}.${host}`, port: 443 };
}

const bool = z.enum(["true", "false"], { message: "expected true or false" }).transform((v) => v === "true");
const s3Query = z
  .object({
    endpoint: z.url({ message: "expected an http(s) URL such as http://127.0.0.1:9000" }).optional(),
    region: z.string().min(1, "expected a region such as us-east-1").optional(),
    pathStyle: bool.optional(),
    conditionalPut: bool.optional(),
    leanGets: bool.optional(),
  })
  .strict();
const bucketName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected an S3 bucket name (3-63 lowercase letters, digits, '.', '-')");

export function s3ConfigFromUrl(url: URL, options: OpenObjectStoreOptions): S3ObjectStoreConfig {
  const bucket = bucketName.safeParse(url.hostname);
  if (!bucket.success) throw urlPartError(url, "bucket", bucket.error);
  const query = s3Query.safeParse(queryOf(url));
  if (!query.success) throw urlPartError(url, "query", query.error);
  const env = options.env ?? process.env;
  const explicit = options.s3;
  const config: S3ObjectStoreConfig = {
    bucket: bucket.data,
    prefix: normalizePrefix(decodeURIComponent(url.pathname)),
    region: query.data.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    forcePathStyle: query.data.pathStyle ?? query.data.endpoint !== undefined,
    conditionalPut: query.data.conditionalPut ?? false,
  };
  if (query.data.endpoint) config.endpoint = query.data.endpoint;
  if (query.data.leanGets !== undefined) config.leanRangeGets = query.data.leanGets;
  if (options.requestTimeoutMs) config.requestTimeoutMs = options.requestTimeoutMs;
  if (explicit?.accessKeyId && explicit.secretAccessKey) {
    config.credentials = { accessKeyId: explicit.accessKeyId, secretAccessKey: explicit.secretAccessKey };
    if (explicit.sessionToken) config.credentials.sessionToken = explicit.sessionToken;
  }
  return config;
}
