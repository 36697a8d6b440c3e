/**
 * The configuration of an S3 store, and how an `s3://` URL becomes one:
 * `s3://bucket/prefix?endpoint=http://host:port&region=us-east-1&pathStyle=true[&conditionalPut=true][&leanGets=false][&directGets=false]`
 *
 * Conditional put is off by default: s3rver and several S3-compatibles silently ignore
 * If-None-Match/If-Match, which would turn fencing into a lie. `conditionalPut=true` opts
 * in for stores known to honour it (AWS S3 does since 2024, for PutObject and
 * CompleteMultipartUpload).
 */
import { z } from "zod";
import { normalizePrefix } from "./keys.js";
import { type OpenObjectStoreOptions, parseUrlPart, queryOf } from "./registry.js";
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
  /**
   * Ranged GETs signed and sent without the SDK's stack (default true, needs the lean client);
   * false: the SDK builds and parses them (an escape hatch for a store that wants more than SigV4).
   */
  directRangeGets?: boolean;
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
    directGets: bool.optional(),
  })
  .strict();
const bucketName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected an S3 bucket name (3-63 lowercase letters, digits, '.', '-')");

export function s3ConfigFromUrl(url: URL, options: OpenObjectStoreOptions): S3ObjectStoreConfig {
  const bucket = parseUrlPart(url, "bucket", bucketName, url.hostname);
  const query = parseUrlPart(url, "query", s3Query, queryOf(url));
  const env = options.env ?? process.env;
  const explicit = options.s3;
  const config: S3ObjectStoreConfig = {
    bucket,
    prefix: normalizePrefix(decodeURIComponent(url.pathname)),
    region: query.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    forcePathStyle: query.pathStyle ?? query.endpoint !== undefined,
    conditionalPut: query.conditionalPut ?? false,
  };
  if (query.endpoint) config.endpoint = query.endpoint;
  if (query.leanGets !== undefined) config.leanRangeGets = query.leanGets;
  if (query.directGets !== undefined) config.directRangeGets = query.directGets;
  if (options.requestTimeoutMs) config.requestTimeoutMs = options.requestTimeoutMs;
  if (explicit?.accessKeyId && explicit.secretAccessKey) {
    config.credentials = { accessKeyId: explicit.accessKeyId, secretAccessKey: explicit.secretAccessKey };
    if (explicit.sessionToken) config.credentials.sessionToken = explicit.sessionToken;
  }
  return config;
}
