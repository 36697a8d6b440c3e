/**
 * `s3://bucket/prefix?endpoint=http://host:port&region=us-east-1&pathStyle=true[&conditionalPut=true]`
 *
 * Retries: the SDK is built with `maxAttempts: 1`; the retry wrapper (retry.ts, applied by
 * `openObjectStore`) is the only retry layer, so attempts never multiply.
 *
 * Ranges are always `bytes=a-b` (never suffix ranges, which s3rver answers wrongly); a
 * range starting at or past the end yields 416, which we return as an empty body.
 *
 * Conditional put is off by default: s3rver and several S3-compatibles silently ignore
 * If-None-Match/If-Match, which would turn fencing into a lie. `conditionalPut=true` opts
 * in for stores known to honour it (AWS S3 does since 2024, for PutObject and
 * CompleteMultipartUpload).
 *
 * Objects above MULTIPART_THRESHOLD go up as a multipart upload (parallel parts); a failed
 * or aborted upload is aborted on the server so no parts linger.
 *
 * Connections: ranged GETs go over our lean client (s3-request-handler.ts, range-get-pool.ts),
 * which reads bodies straight into the caller's buffer; `preconnect()` warms a connection of its
 * pool, since a ranged GET is what follows a read-open. Every other request goes through the
 * SDK's handler with our own keep-alive agents (warm-agent.ts). `leanGets=false` in the URL (or
 * `leanRangeGets: false`) sends ranged GETs through the SDK handler too.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { z } from "zod";
import { readBody } from "./body.js";
import { ObjectUnsupportedError } from "./errors.js";
import { mapStoreError, statusOf } from "./http-errors.js";
import {
  assertValidKey,
  assertValidListPrefix,
  assertValidRange,
  hasCondition,
  normalizePrefix,
  pageLimit,
  throwIfAborted,
} from "./keys.js";
import { PreconnectFanout } from "./preconnect-fanout.js";
import type { RangeGetPool } from "./range-get-pool.js";
import { type OpenObjectStoreOptions, queryOf, urlPartError } from "./registry.js";
import { withRetry } from "./retry.js";
import { S3RangeRequestHandler, type SdkRequestHandler } from "./s3-request-handler.js";
import type {
  CallOptions,
  GetOptions,
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PreconnectOptions,
  PutOptions,
  PutResult,
  StoreCapabilities,
} from "./types.js";
import { WarmHttpAgent, WarmHttpsAgent, type WarmOptions, type WarmStats } from "./warm-agent.js";

export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
export const MULTIPART_PART_SIZE = 8 * 1024 * 1024;
const MULTIPART_CONCURRENCY = 4;
/** Connections per origin, as node's agents are given below. */
const MAX_SOCKETS = 50;

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

export class S3ObjectStore implements ObjectStore {
  readonly capabilities: StoreCapabilities;
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly agent: WarmHttpAgent | WarmHttpsAgent;
  private readonly fanout: PreconnectFanout;
  private readonly lean?: { handler: S3RangeRequestHandler; pool: RangeGetPool };

  constructor(config: S3ObjectStoreConfig) {
    this.bucket = config.bucket;
    this.prefix = config.prefix;
    this.capabilities = { conditionalPut: config.conditionalPut };
    this.description = `s3://${config.bucket}/${config.prefix}${config.endpoint ? ` at ${config.endpoint}` : ""}`;
    const tls = !config.endpoint || new URL(config.endpoint).protocol === "https:";
    const origin = storeOrigin(config);
    const trust = config.ca ? { ca: config.ca } : {};
    this.agent = tls ? new WarmHttpsAgent(trust, config.warm, origin) : new WarmHttpAgent({}, config.warm, origin);
    this.fanout = new PreconnectFanout(this.description, (o) => this.warmHere(o));
    const clientConfig: S3ClientConfig = {
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      maxAttempts: 1,
      requestHandler: {
        ...(tls ? { httpsAgent: this.agent as WarmHttpsAgent } : { httpAgent: this.agent as WarmHttpAgent }),
        requestTimeout: config.requestTimeoutMs ?? 30_000,
        connectionTimeout: 5_000,
        // Without this, current smithy handlers only log a warning and keep waiting forever.
        throwOnRequestTimeout: true,
      },
      // Newer SDKs add CRC checksums s3rver and many S3-compatibles do not understand.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    };
    if (config.endpoint) clientConfig.endpoint = config.endpoint;
    if (config.credentials) clientConfig.credentials = config.credentials;
    this.client = new S3Client(clientConfig);
    if (config.leanRangeGets !== false) {
      // The SDK reads `config.requestHandler` on every send, so wrapping it after construction
      // keeps the handler it built (with our agents) for everything but ranged GETs.
      const resolved = this.client.config as unknown as { requestHandler: SdkRequestHandler };
      const handler = new S3RangeRequestHandler(resolved.requestHandler, {
        maxSockets: MAX_SOCKETS,
        requestTimeoutMs: config.requestTimeoutMs ?? 30_000,
        connectTimeoutMs: 5_000,
        warm: config.warm,
        tls: trust,
      });
      resolved.requestHandler = handler;
      const pool = handler.pool({ protocol: tls ? "https:" : "http:", ...origin, ...(tls ? { tls: trust } : {}) });
      this.lean = { handler, pool };
    }
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    assertValidKey(key);
    const range = options?.range;
    if (range) assertValidRange(range);
    const signal = options?.signal;
    throwIfAborted(signal, key);
    // An empty range still has to prove the key exists.
    if (range && range.length === 0) {
      await this.head(key, options);
      return Buffer.alloc(0);
    }
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}),
        }),
        { abortSignal: signal },
      );
      // In Node the body is the response stream; read it once into place (see body.ts).
      const stream = res.Body as AsyncIterable<Uint8Array> | undefined;
      const bytes = stream
        ? await readBody(stream, res.ContentLength, options?.into, options?.onProgress)
        : Buffer.alloc(0);
      throwIfAborted(signal, key);
      return bytes;
    } catch (err) {
      if (statusOf(err) === 416 || (err as { name?: string })?.name === "InvalidRange") return Buffer.alloc(0);
      throw mapStoreError(err, key, signal);
    }
  }

  async head(key: string, options?: CallOptions): Promise<ObjectInfo> {
    assertValidKey(key);
    throwIfAborted(options?.signal, key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), {
        abortSignal: options?.signal,
      });
      return {
        key,
        size: res.ContentLength ?? 0,
        etag: unquote(res.ETag),
        lastModified: res.LastModified ?? new Date(0),
      };
    } catch (err) {
      throw mapStoreError(err, key, options?.signal);
    }
  }

  async put(key: string, body: Buffer, options?: PutOptions): Promise<PutResult> {
    assertValidKey(key);
    if (hasCondition(options) && !this.capabilities.conditionalPut) {
      throw new ObjectUnsupportedError(
        `${this.description} does not promise conditional put (add ?conditionalPut=true if the store honours If-None-Match/If-Match)`,
        key,
      );
    }
    throwIfAborted(options?.signal, key);
    const conditions = {
      ...(options?.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
      ...(options?.ifMatch !== undefined ? { IfMatch: quote(options.ifMatch) } : {}),
    };
    try {
      if (body.length > MULTIPART_THRESHOLD) return await this.putMultipart(key, body, conditions, options?.signal);
      const res = await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: body, ...conditions }),
        { abortSignal: options?.signal },
      );
      return { etag: unquote(res.ETag) };
    } catch (err) {
      throw mapStoreError(err, key, options?.signal);
    }
  }

  async delete(key: string, options?: CallOptions): Promise<void> {
    assertValidKey(key);
    throwIfAborted(options?.signal, key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), {
        abortSignal: options?.signal,
      });
    } catch (err) {
      const mapped = mapStoreError(err, key, options?.signal);
      if (mapped.name !== "ObjectNotFoundError") throw mapped;
    }
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    assertValidListPrefix(prefix);
    throwIfAborted(options?.signal);
    try {
      const res = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix + prefix,
          MaxKeys: pageLimit(options?.limit),
          ...(options?.cursor ? { ContinuationToken: options.cursor } : {}),
        }),
        { abortSignal: options?.signal },
      );
      const objects = (res.Contents ?? []).map((o) => ({
        key: (o.Key ?? "").slice(this.prefix.length),
        size: o.Size ?? 0,
        etag: unquote(o.ETag),
        lastModified: o.LastModified ?? new Date(0),
      }));
      return res.IsTruncated && res.NextContinuationToken
        ? { objects, cursor: res.NextContinuationToken }
        : { objects };
    } catch (err) {
      throw mapStoreError(err, undefined, options?.signal);
    }
  }

  /**
   * Opens a connection to the store unless an idle one is left, so the next GET need not wait for
   * TCP (and TLS) setup — here and in every other client of this store in the process (fetch
   * workers, see preconnect-fanout.ts). Nothing is sent on it; unused, it is closed after
   * `warm.maxIdleMs`. Resolves when this client's connection is ready (or its probe answered).
   */
  preconnect(options?: PreconnectOptions): Promise<void> {
    return this.fanout.preconnect(options);
  }

  private async warmHere(options: PreconnectOptions): Promise<void> {
    const ready = this.lean ? this.lean.pool.preconnect() : this.agent.preconnect();
    if (options.probeKey === undefined) return ready;
    await this.get(options.probeKey, { range: { offset: 0, length: 1 } }).catch(() => undefined);
  }

  /** Counters of the warm connection (tests, stats): the lean pool's when ranged GETs use it. */
  get warmStats(): WarmStats {
    return this.lean ? { ...this.lean.pool.warmStats } : this.agent.warmStats;
  }

  /** Ranged GETs sent over the lean client, and its connects (tests, stats). */
  get leanStats(): { requests: number; connects: number } | undefined {
    return this.lean && { requests: this.lean.handler.leanRequests, connects: this.lean.pool.connects };
  }

  async close(): Promise<void> {
    this.fanout.close();
    this.client.destroy();
    this.agent.destroy();
  }

  private async putMultipart(
    key: string,
    body: Buffer,
    conditions: { IfNoneMatch?: string; IfMatch?: string },
    signal: AbortSignal | undefined,
  ): Promise<PutResult> {
    const target = { Bucket: this.bucket, Key: this.prefix + key };
    const created = await this.client.send(new CreateMultipartUploadCommand(target), { abortSignal: signal });
    const UploadId = created.UploadId!;
    try {
      const partCount = Math.ceil(body.length / MULTIPART_PART_SIZE);
      const etags: string[] = new Array(partCount);
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < partCount; i = next++) {
          const part = body.subarray(i * MULTIPART_PART_SIZE, (i + 1) * MULTIPART_PART_SIZE);
          const res = await this.client.send(
            new UploadPartCommand({ ...target, UploadId, PartNumber: i + 1, Body: part }),
            { abortSignal: signal },
          );
          etags[i] = res.ETag!;
        }
      };
      await Promise.all(Array.from({ length: Math.min(MULTIPART_CONCURRENCY, partCount) }, worker));
      const done = await this.client.send(
        new CompleteMultipartUploadCommand({
          ...target,
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
          ...conditions,
        }),
        { abortSignal: signal },
      );
      return { etag: unquote(done.ETag) };
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ ...target, UploadId })).catch(() => {});
      throw err;
    }
  }
}

/**
 * Where the SDK will connect for this bucket (the warm agent learns the real one from the first
 * request; this lets a fresh client, e.g. a fetch worker's, warm before it has sent anything).
 */
function storeOrigin(config: S3ObjectStoreConfig): { host: string; port: number } {
  if (config.endpoint) {
    const url = new URL(config.endpoint);
    const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
    return { host: config.forcePathStyle ? url.hostname : `${config.bucket}.${url.hostname}`, port };
  }
  const host = `s3.${config.region}.amazonaws.com`;
  return { host: config.forcePathStyle ? host : `${config.bucket}.${host}`, port: 443 };
}

function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/^"|"$/g, "");
}

function quote(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
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

/** Opener for `s3://` URLs; url.ts registers it lazily so the SDK loads only when used. */
export function openS3FromUrl(url: URL, options: OpenObjectStoreOptions): ObjectStore {
  const store = new S3ObjectStore(s3ConfigFromUrl(url, options));
  return options.retry === false ? store : withRetry(store, options.retry);
}
