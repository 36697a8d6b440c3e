/**
 * The `s3://` backend: the ObjectStore operations on the AWS SDK. The URL and its options are in
 * s3-config.ts, the SDK client and connections (retries, lean ranged GETs, warm agents) in
 * s3-client.ts, uploads above 16 MiB in s3-multipart.ts.
 *
 * Ranges are always `bytes=a-b` (never suffix ranges, which s3rver answers wrongly); a
 * range starting at or past the end yields 416, which we return as an empty body.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { readBody } from "./body.js";
import { ObjectUnsupportedError } from "./errors.js";
import { mapStoreError, statusOf } from "./http-errors.js";
import {
  assertValidKey,
  assertValidListPrefix,
  assertValidRange,
  hasCondition,
  pageLimit,
  throwIfAborted,
} from "./keys.js";
import { PreconnectFanout } from "./preconnect-fanout.js";
import type { OpenObjectStoreOptions } from "./registry.js";
import { withRetry } from "./retry.js";
import { createS3Connections, type S3Connections } from "./s3-client.js";
import { type S3ObjectStoreConfig, s3ConfigFromUrl } from "./s3-config.js";
import type { S3DirectGet } from "./s3-direct-get.js";
import { MULTIPART_THRESHOLD, putMultipart } from "./s3-multipart.js";
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
import type { WarmStats } from "./warm-agent.js";

export { type S3ObjectStoreConfig, s3ConfigFromUrl } from "./s3-config.js";
export { MULTIPART_PART_SIZE, MULTIPART_THRESHOLD } from "./s3-multipart.js";

export class S3ObjectStore implements ObjectStore {
  readonly capabilities: StoreCapabilities;
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly agent: S3Connections["agent"];
  private readonly fanout: PreconnectFanout;
  private readonly lean?: S3Connections["lean"];
  /** Ranged GETs signed and sent without the SDK's stack (s3-direct-get.ts), unless leanGets=false. */
  private readonly direct?: S3DirectGet;

  constructor(config: S3ObjectStoreConfig) {
    this.bucket = config.bucket;
    this.prefix = config.prefix;
    this.capabilities = { conditionalPut: config.conditionalPut };
    this.description = `s3://${config.bucket}/${config.prefix}${config.endpoint ? ` at ${config.endpoint}` : ""}`;
    const connections = createS3Connections(config);
    this.client = connections.client;
    this.agent = connections.agent;
    this.lean = connections.lean;
    this.direct = connections.direct;
    this.fanout = new PreconnectFanout(this.description, (o) => this.warmHere(o));
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
      if (range && this.direct) {
        const r = await this.direct.get(this.prefix + key, range.offset, range.length, options ?? {});
        if ("body" in r) {
          throwIfAborted(signal, key);
          return r.body;
        }
      }
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
      if (body.length > MULTIPART_THRESHOLD) {
        const target = { Bucket: this.bucket, Key: this.prefix + key };
        return { etag: unquote(await putMultipart(this.client, target, body, conditions, options?.signal)) };
      }
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
    return options?.here ? this.warmHere(options) : this.fanout.preconnect(options);
  }

  private async warmHere(options: PreconnectOptions): Promise<void> {
    if (options.connections !== undefined && this.lean) this.lean.pool.ensureConnections(options.connections);
    const ready = this.lean ? this.lean.pool.preconnect() : this.agent.preconnect();
    if (options.probeKey === undefined) return ready;
    await this.get(options.probeKey, { range: { offset: 0, length: 1 } }).catch(() => undefined);
  }

  /** Counters of the warm connection (tests, stats): the lean pool's when ranged GETs use it. */
  get warmStats(): WarmStats {
    return this.lean ? { ...this.lean.pool.warmStats } : this.agent.warmStats;
  }

  /** Ranged GETs sent over the lean client (`direct`: of those, without the SDK), and its connects (tests, stats). */
  get leanStats(): { requests: number; direct: number; connects: number } | undefined {
    if (!this.lean) return undefined;
    const direct = this.direct?.requests ?? 0;
    return { requests: this.lean.handler.leanRequests + direct, direct, connects: this.lean.pool.connects };
  }

  async close(): Promise<void> {
    this.fanout.close();
    this.client.destroy();
    this.agent.destroy();
  }
}

function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/^"|"$/g, "");
}

function quote(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

/** Opener for `s3://` URLs; url.ts registers it lazily so the SDK loads only when used. */
export function openS3FromUrl(url: URL, options: OpenObjectStoreOptions): ObjectStore {
  const store = new S3ObjectStore(s3ConfigFromUrl(url, options));
  return options.retry === false ? store : withRetry(store, options.retry);
}
