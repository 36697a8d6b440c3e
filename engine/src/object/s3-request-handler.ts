/**
 * The S3 client's request handler: ranged GETs go over the lean client (range-get-pool.ts), whose
 * bodies can be read straight into the caller's buffer (`readInto`, used by body.ts); every other
 * request goes to the SDK's own handler, unchanged. The SDK still builds, signs and parses
 * everything — including the error answers of ranged GETs, handed to it as ordinary streams — so
 * status codes map exactly as they do on the SDK path.
 *
 * Lean requests: method GET with a Range header, to an http: or https: origin (node's TLS sockets
 * honour `onread` too), without credentials in the URL. One pool per origin, created on first use
 * (a store talks to one origin; the map only guards against a redirecting endpoint resolver).
 * A 2xx the lean client refuses to frame (chunked, no Content-Length) is sent again through the
 * SDK's handler. When the store signs and sends its ranged GETs itself (s3-direct-get.ts),
 * `leanGets` is off: a ranged GET reaches the SDK only after the lean client refused its answer.
 */

import type { ConnectionOptions } from "node:tls";
import { RangeGetRefusedError } from "./range-get-errors.js";
import { RangeGetPool, type RangeGetPoolOptions } from "./range-get-pool.js";
import type { Endpoint, RangeResponse } from "./range-get-types.js";

/** The parts of the SDK's HttpRequest we read (the SDK's own type lives in an undeclared package). */
export interface SdkHttpRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | Array<string | null> | null>;
  headers: Record<string, string>;
  fragment?: string;
  username?: string;
  password?: string;
}

/** The SDK handler interface, as far as S3Client uses it. */
export interface SdkRequestHandler {
  handle(
    request: SdkHttpRequest,
    options?: { abortSignal?: unknown; requestTimeout?: number },
  ): Promise<{ response: unknown }>;
  destroy?(): void;
  updateHttpClientConfig?(key: never, value: never): void;
  httpHandlerConfigs?(): unknown;
  metadata?: unknown;
}

export interface LeanHandlerOptions extends RangeGetPoolOptions {
  /** TLS options for https origins (trust roots in tests). */
  tls?: ConnectionOptions;
}

export class S3RangeRequestHandler implements SdkRequestHandler {
  /** Ranged GETs sent over the lean path (tests, stats). */
  leanRequests = 0;
  /**
   * Whether ranged GETs of the SDK go over the lean pool. Off when the store sends them itself
   * (s3-direct-get.ts): then one reaches the SDK only because the lean client refused its answer.
   */
  leanGets = true;
  private readonly pools = new Map<string, RangeGetPool>();

  constructor(
    private readonly sdk: SdkRequestHandler,
    private readonly options: LeanHandlerOptions = {},
  ) {}

  get metadata(): unknown {
    return this.sdk.metadata;
  }

  async handle(
    request: SdkHttpRequest,
    options: { abortSignal?: unknown; requestTimeout?: number } = {},
  ): Promise<{ response: unknown }> {
    if (!this.leanGets || !isLeanRequest(request)) return this.sdk.handle(request, options);
    const signal = options.abortSignal instanceof AbortSignal ? options.abortSignal : undefined;
    const endpoint = endpointOf(request, this.options.tls);
    this.leanRequests++;
    try {
      const res: RangeResponse = await this.pool(endpoint).request(requestHead(request, endpoint), signal);
      return { response: res };
    } catch (err) {
      // A 2xx framed in a way we do not read (chunked): the SDK's handler sends it again, as a GET may be.
      if (err instanceof RangeGetRefusedError) return this.sdk.handle(request, options);
      throw err;
    }
  }

  /** The pool for `origin` (created when missing): `preconnect` warms it before any request. */
  pool(endpoint: Endpoint): RangeGetPool {
    const key = `${endpoint.protocol}//${endpoint.host}:${endpoint.port}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new RangeGetPool(endpoint, this.options);
      this.pools.set(key, pool);
    }
    return pool;
  }

  updateHttpClientConfig(key: never, value: never): void {
    this.sdk.updateHttpClientConfig?.(key, value);
  }

  httpHandlerConfigs(): unknown {
    return this.sdk.httpHandlerConfigs?.() ?? {};
  }

  destroy(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
    this.sdk.destroy?.();
  }
}

function isLeanRequest(r: SdkHttpRequest): boolean {
  if (r.method !== "GET" || (r.protocol !== "http:" && r.protocol !== "https:")) return false;
  if (r.username != null || r.password != null || r.fragment) return false;
  return Object.keys(r.headers).some((h) => h.toLowerCase() === "range");
}

function endpointOf(r: SdkHttpRequest, tls: ConnectionOptions | undefined): Endpoint {
  const https = r.protocol === "https:";
  const host = r.hostname.startsWith("[") && r.hostname.endsWith("]") ? r.hostname.slice(1, -1) : r.hostname;
  return {
    protocol: https ? "https:" : "http:",
    host,
    port: r.port ?? (https ? 443 : 80),
    ...(https && tls ? { tls } : {}),
  };
}

/** The request text; the SDK's headers as signed (a Host header added if it left it out). */
export function requestHead(r: SdkHttpRequest, endpoint: Endpoint): string {
  const query = r.query ? buildQueryString(r.query) : "";
  const target = query ? `${r.path}?${query}` : r.path;
  if (/[\s]/.test(target)) throw new Error(`request target has whitespace: ${JSON.stringify(target)}`);
  let head = `GET ${target} HTTP/1.1\r\n`;
  let hasHost = false;
  for (const [name, value] of Object.entries(r.headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(String(value))) throw new Error(`header ${name} has a line break`);
    if (name.toLowerCase() === "host") hasHost = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!hasHost) {
    const defaultPort = endpoint.port === (endpoint.protocol === "https:" ? 443 : 80);
    head += `host: ${r.hostname}${defaultPort ? "" : `:${endpoint.port}`}\r\n`;
  }
  return `${head}\r\n`;
}

/** As smithy's buildQueryString: keys sorted, RFC 3986 escaping. */
function buildQueryString(query: NonNullable<SdkHttpRequest["query"]>): string {
  const parts: string[] = [];
  for (const rawKey of Object.keys(query).sort()) {
    const value = query[rawKey];
    const key = escapeUri(rawKey);
    if (Array.isArray(value)) for (const v of value) parts.push(`${key}=${escapeUri(v ?? "")}`);
    else parts.push(value || typeof value === "string" ? `${key}=${escapeUri(value)}` : key);
  }
  return parts.join("&");
}

function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
