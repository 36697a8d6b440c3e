/**
 * `azure://container/prefix[?endpoint=http://127.0.0.1:10000/devstoreaccount1]`
 *
 * Credentials, first match wins: explicit options; AZURE_STORAGE_CONNECTION_STRING; or
 * AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY (with `?endpoint=` for azurite/sovereign
 * clouds; a bare host gets the account name appended as its path, azurite style).
 *
 * Retries: the SDK pipeline is built with `maxTries: 1` and downloads with
 * `maxRetryRequests: 0`; the retry wrapper is the only retry layer. Timeouts: the SDK has
 * no client-side one, so every call runs under a Deadline (deadline.ts).
 * Conditional put is native: If-None-Match: * and If-Match: etag (also on the block-list
 * commit of large uploads). The container must exist; we never create it implicitly.
 * Connections: our own keep-alive agents (warm-agent.ts, set on every request by a pipeline
 * policy), so `preconnect()` can open a connection before a GET needs it.
 */
import type { Readable } from "node:stream";
import {
  type BlobItem,
  BlobServiceClient,
  ContainerClient,
  type ContainerListBlobFlatSegmentResponse,
  newPipeline,
  type RequestPolicyFactory,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { z } from "zod";
import { Deadline, transferBudgetMs } from "./deadline.js";
import { ObjectPreconditionFailedError } from "./errors.js";
import { statusOf } from "./http-errors.js";
import {
  assertValidKey,
  assertValidListPrefix,
  assertValidRange,
  normalizePrefix,
  pageLimit,
  throwIfAborted,
} from "./keys.js";
import { PreconnectFanout } from "./preconnect-fanout.js";
import { type OpenObjectStoreOptions, parseUrlPart, queryOf, urlError } from "./registry.js";
import { withRetry } from "./retry.js";
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
import { WarmHttpAgent, WarmHttpsAgent } from "./warm-agent.js";

/** Bodies above this go up as parallel blocks + one commit (Azure's single-shot limit is far higher). */
const SINGLE_SHOT_MAX = 16 * 1024 * 1024;
const BLOCK_SIZE = 8 * 1024 * 1024;

export class AzureObjectStore implements ObjectStore {
  readonly capabilities: StoreCapabilities = { conditionalPut: true };
  readonly description: string;

  private readonly fanout?: PreconnectFanout;

  constructor(
    private readonly container: ContainerClient,
    private readonly prefix: string,
    /** Client-side deadline per call until response headers (uploads: plus transfer time). */
    private readonly timeoutMs = 30_000,
    /** The agent the container client's pipeline sends with (enables `preconnect`). */
    private readonly agent?: WarmHttpAgent | WarmHttpsAgent,
  ) {
    this.description = `azure://${container.containerName}/${prefix} at ${new URL(container.url).origin}`;
    if (agent) this.fanout = new PreconnectFanout(this.description, (o) => this.warmHere(o));
  }

  /**
   * Opens a connection ahead of a GET, here and in the other clients of this store (see s3.ts).
   * One at most: `connections` is for the S3 backend's lean pool; node's agent has no such call.
   */
  preconnect(options?: PreconnectOptions): Promise<void> {
    if (options?.here) return this.agent ? this.warmHere(options) : Promise.resolve();
    return this.fanout?.preconnect(options) ?? Promise.resolve();
  }

  private async warmHere(options: PreconnectOptions): Promise<void> {
    const ready = this.agent?.preconnect();
    if (options.probeKey === undefined) return ready;
    await this.get(options.probeKey, { range: { offset: 0, length: 1 } }).catch(() => undefined);
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    assertValidKey(key);
    const range = options?.range;
    if (range) assertValidRange(range);
    const signal = options?.signal;
    throwIfAborted(signal, key);
    if (range && range.length === 0) {
      await this.head(key, options);
      return Buffer.alloc(0);
    }
    const deadline = new Deadline(signal, this.timeoutMs);
    try {
      const res = await this.blob(key).download(range?.offset ?? 0, range?.length, {
        abortSignal: deadline.signal,
        maxRetryRequests: 0,
      });
      deadline.clear(); // headers are in; the body is bounded by the caller's signal only
      const body = await collect(res.readableStreamBody as Readable | undefined);
      throwIfAborted(signal, key);
      return body;
    } catch (err) {
      if (statusOf(err) === 416) return Buffer.alloc(0);
      throw deadline.error(err, key);
    }
  }

  async head(key: string, options?: CallOptions): Promise<ObjectInfo> {
    assertValidKey(key);
    throwIfAborted(options?.signal, key);
    const deadline = new Deadline(options?.signal, this.timeoutMs);
    try {
      const p = await this.blob(key).getProperties({ abortSignal: deadline.signal });
      return { key, size: p.contentLength ?? 0, etag: p.etag ?? "", lastModified: p.lastModified ?? new Date(0) };
    } catch (err) {
      throw deadline.error(err, key);
    } finally {
      deadline.clear();
    }
  }

  async put(key: string, body: Buffer, options?: PutOptions): Promise<PutResult> {
    assertValidKey(key);
    throwIfAborted(options?.signal, key);
    const deadline = new Deadline(options?.signal, transferBudgetMs(this.timeoutMs, body.length));
    try {
      const res = await this.blob(key).uploadData(body, {
        abortSignal: deadline.signal,
        maxSingleShotSize: SINGLE_SHOT_MAX,
        blockSize: BLOCK_SIZE,
        concurrency: 4,
        conditions: {
          ...(options?.ifNoneMatch ? { ifNoneMatch: "*" } : {}),
          ...(options?.ifMatch !== undefined ? { ifMatch: options.ifMatch } : {}),
        },
      });
      return { etag: res.etag ?? "" };
    } catch (err) {
      // Azure answers a create-only conflict with 409 BlobAlreadyExists rather than 412.
      if (options?.ifNoneMatch && statusOf(err) === 409) {
        throw new ObjectPreconditionFailedError(key, { cause: err });
      }
      throw deadline.error(err, key);
    } finally {
      deadline.clear();
    }
  }

  async delete(key: string, options?: CallOptions): Promise<void> {
    assertValidKey(key);
    throwIfAborted(options?.signal, key);
    const deadline = new Deadline(options?.signal, this.timeoutMs);
    try {
      await this.blob(key).deleteIfExists({ abortSignal: deadline.signal });
    } catch (err) {
      throw deadline.error(err, key);
    } finally {
      deadline.clear();
    }
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    assertValidListPrefix(prefix);
    throwIfAborted(options?.signal);
    const deadline = new Deadline(options?.signal, this.timeoutMs);
    try {
      const pages = this.container
        .listBlobsFlat({ prefix: this.prefix + prefix, abortSignal: deadline.signal })
        .byPage({
          maxPageSize: pageLimit(options?.limit),
          ...(options?.cursor ? { continuationToken: options.cursor } : {}),
        });
      const page = (await pages.next()).value as ContainerListBlobFlatSegmentResponse | undefined;
      const objects = (page?.segment.blobItems ?? []).map((b: BlobItem) => ({
        key: b.name.slice(this.prefix.length),
        size: b.properties.contentLength ?? 0,
        etag: b.properties.etag ?? "",
        lastModified: b.properties.lastModified ?? new Date(0),
      }));
      return page?.continuationToken ? { objects, cursor: page.continuationToken } : { objects };
    } catch (err) {
      throw deadline.error(err, undefined);
    } finally {
      deadline.clear();
    }
  }

  async close(): Promise<void> {
    this.fanout?.close();
    this.agent?.destroy();
  }

  private blob(key: string) {
    return this.container.getBlockBlobClient(this.prefix + key);
  }
}

async function collect(stream: Readable | undefined): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const azureQuery = z
  .object({
    endpoint: z.url({ message: "expected an http(s) URL such as http://127.0.0.1:10000/devstoreaccount1" }).optional(),
  })
  .strict();
const containerName = z
  .string()
  .regex(
    /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/,
    "expected an Azure container name (3-63 lowercase letters, digits, '-')",
  );

export function openAzureObjectStore(url: URL, options: OpenObjectStoreOptions): AzureObjectStore {
  const container = parseUrlPart(url, "container", containerName, url.hostname);
  const query = parseUrlPart(url, "query", azureQuery, queryOf(url));
  const env = options.env ?? process.env;
  const pipeline = {
    // tryTimeoutInMs is only a server-side hint; the client-side deadline is Deadline.
    retryOptions: { maxTries: 1, tryTimeoutInMs: options.requestTimeoutMs ?? 30_000 },
    userAgentOptions: { userAgentPrefix: "filespaces" },
  };
  const connectionString = options.azure?.connectionString ?? env.AZURE_STORAGE_CONNECTION_STRING;
  const account = options.azure?.accountName ?? env.AZURE_STORAGE_ACCOUNT;
  const key = options.azure?.accountKey ?? env.AZURE_STORAGE_KEY;
  let service: BlobServiceClient;
  if (connectionString && !options.azure?.accountName) {
    service = BlobServiceClient.fromConnectionString(connectionString, pipeline);
  } else if (account && key) {
    const endpoint = new URL(query.endpoint ?? `https://${account}.blob.core.windows.net`);
    if (query.endpoint && endpoint.pathname === "/") endpoint.pathname = `/${account}`;
    service = new BlobServiceClient(
      endpoint.href.replace(/\/$/, ""),
      new StorageSharedKeyCredential(account, key),
      pipeline,
    );
  } else {
    throw urlError(
      url,
      "credentials",
      "expected AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY",
    );
  }
  // The same client, on a pipeline that sends with our agent (the SDK's own agents are private).
  const containerUrl = service.getContainerClient(container).url;
  const endpoint = new URL(containerUrl);
  const tls = endpoint.protocol === "https:";
  const origin = { host: endpoint.hostname, port: Number(endpoint.port) || (tls ? 443 : 80) };
  const agent = tls ? new WarmHttpsAgent({}, {}, origin) : new WarmHttpAgent({}, {}, origin);
  const withAgent = newPipeline(service.credential, pipeline);
  withAgent.factories.push(sendWith(agent));
  return new AzureObjectStore(
    new ContainerClient(containerUrl, withAgent),
    normalizePrefix(decodeURIComponent(url.pathname)),
    options.requestTimeoutMs,
    agent,
  );
}

/** A pipeline policy that sends every request with `agent`. */
function sendWith(agent: WarmHttpAgent | WarmHttpsAgent): RequestPolicyFactory {
  return {
    create: (next) => ({
      sendRequest: (request) => {
        request.agent = agent;
        return next.sendRequest(request);
      },
    }),
  };
}

/** Opener for `azure://` URLs; url.ts registers it lazily so the SDK loads only when used. */
export function openAzureFromUrl(url: URL, options: OpenObjectStoreOptions): ObjectStore {
  const store = openAzureObjectStore(url, options);
  return options.retry === false ? store : withRetry(store, options.retry);
}
