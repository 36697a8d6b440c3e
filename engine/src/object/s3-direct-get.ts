/**
 * Ranged GETs without the SDK's middleware: signed here with the SDK's own SigV4 signer
 * (@smithy/signature-v4, credentials from the S3 client's provider chain) and sent on the lean
 * range-GET pool with the caller's buffer named up front, so a 2xx body is claimed the moment
 * its head is parsed.
 *
 * Why: every GET ran the SDK's stack (endpoint and auth-scheme resolution, schema serialisation
 * and deserialisation, checksum and log filters): 11 % of the mount's CPU in a cold stream, more
 * than AES-GCM, plus the JIT's work optimising that code in every fetch worker (docs/benchmarks.md,
 * session 13). A data read is the one request a filespace sends thousands of.
 *
 * Answers other than 2xx become an error shaped like the SDK's (the S3 error code as its name,
 * the status in `$metadata`), so http-errors.ts maps 404, 416, 403, 5xx and throttling exactly
 * as before and the retry layer sees the same errors. A 2xx the lean client refuses to frame
 * (chunked) is sent again through the SDK. Network failures before an answer are the lean
 * client's, as they were under the SDK handler.
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, Provider, SourceData } from "@smithy/types";
import { readBody } from "./body.js";
import { RangeGetRefusedError } from "./range-get-errors.js";
import type { RangeGetPool } from "./range-get-pool.js";
import type { Endpoint, RangeResponse } from "./range-get-types.js";
import { requestHead } from "./s3-request-handler.js";

/** SHA-256 of an empty payload: what a GET signs as its body. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** The signer's hash interface on node:crypto. */
class NodeSha256 {
  private hash: Hash | Hmac;
  private readonly secret?: string | Uint8Array;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytesOf(secret);
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", this.secret);
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

function bytesOf(data: SourceData): string | Uint8Array {
  if (typeof data === "string" || data instanceof Uint8Array) return data;
  return ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
}

export interface DirectGetTarget {
  /** Where the request goes: the lean pool's origin. */
  endpoint: Endpoint;
  /** `/bucket/` (path style) or `/` (virtual host), before the URI-encoded key. */
  pathPrefix: string;
  region: string;
  credentials: Provider<AwsCredentialIdentity>;
  /** The SDK's correction of this host's clock (learnt from RequestTimeTooSkewed answers), ms. */
  clockOffsetMs: () => number;
}

/** What a direct GET came back with: the body, or "ask the SDK" (any answer but a fitting 2xx). */
export type DirectGetResult = { body: Buffer } | { fallback: true };

export class S3DirectGet {
  /** GETs sent (tests, stats). */
  requests = 0;
  private readonly signer: SignatureV4;
  private readonly host: string;

  constructor(
    private readonly target: DirectGetTarget,
    private readonly pool: RangeGetPool,
  ) {
    this.signer = new SignatureV4({
      service: "s3",
      region: target.region,
      credentials: target.credentials,
      sha256: NodeSha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    const { endpoint } = target;
    const defaultPort = endpoint.port === (endpoint.protocol === "https:" ? 443 : 80);
    this.host = defaultPort ? endpoint.host : `${endpoint.host}:${endpoint.port}`;
  }

  /** GET `bytes=offset..offset+length-1` of `key` (the store's full key) into `into` when it fits. */
  async get(
    key: string,
    offset: number,
    length: number,
    options: { into?: Buffer; onProgress?: (bytes: number) => void; signal?: AbortSignal },
  ): Promise<DirectGetResult> {
    const signed = await this.signer.sign(
      {
        method: "GET",
        protocol: this.target.endpoint.protocol,
        hostname: this.target.endpoint.host,
        port: this.target.endpoint.port,
        path: this.target.pathPrefix + encodeKey(key),
        query: {},
        headers: {
          host: this.host,
          range: `bytes=${offset}-${offset + length - 1}`,
          "x-amz-content-sha256": EMPTY_SHA256,
        },
      },
      { signingDate: new Date(Date.now() + this.target.clockOffsetMs()) },
    );
    const head = requestHead(signed as Parameters<typeof requestHead>[0], this.target.endpoint);
    const into = options.into && { buffer: options.into, onProgress: options.onProgress };
    this.requests++;
    let res: RangeResponse;
    try {
      res = await this.pool.request(head, options.signal, into);
    } catch (err) {
      // A 2xx framed in a way the lean client does not read (chunked): the SDK's turn.
      if (err instanceof RangeGetRefusedError) return { fallback: true };
      throw err;
    }
    if (res.statusCode < 200 || res.statusCode > 299) throw await errorAnswer(res);
    return { body: await readBody(res.body, undefined, options.into, options.onProgress) };
  }
}

/** An S3 error answer as the SDK would throw it: `<Code>` as name and code, status in `$metadata`. */
export class S3ErrorAnswer extends Error {
  readonly $metadata: { httpStatusCode: number };
  readonly Code: string;

  constructor(status: number, code: string | undefined, message: string | undefined) {
    super(message || `HTTP ${status}`);
    this.name = code || `HTTP${status}`;
    this.Code = this.name;
    this.$metadata = { httpStatusCode: status };
  }
}

/** The error of a non-2xx answer; its body (bounded, read whole by the connection) is S3's XML. */
async function errorAnswer(res: RangeResponse): Promise<S3ErrorAnswer> {
  const xml = Buffer.concat(await res.body.toArray()).toString("utf8");
  const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
  return new S3ErrorAnswer(res.statusCode, field("Code"), field("Message"));
}

/** An S3 key in a request path: RFC 3986 unreserved characters kept, `/` kept, the rest %-encoded. */
export function encodeKey(key: string): string {
  return key
    .split("/")
    .map((part) =>
      encodeURIComponent(part).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join("/");
}
