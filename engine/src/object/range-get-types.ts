/** The shapes the lean range-GET client's modules share (connection, pool, body, S3 handler). */
import type { Readable } from "node:stream";
import type tls from "node:tls";
import type { RangeBody } from "./range-get-body.js";

export interface Endpoint {
  protocol: "http:" | "https:";
  host: string;
  port: number;
  /** TLS options (https only): trust roots, server name... */
  tls?: tls.ConnectionOptions;
}

/** Where a claimed body goes: `buffer[pos, end)`, progress reported as it fills. */
export interface BodyTarget {
  buffer: Buffer;
  pos: number;
  end: number;
  onProgress?: (bytes: number) => void;
}

/** A caller's buffer for a 2xx body, named with the request (range-get-connection.ts `send`). */
export interface IntoBuffer {
  buffer: Buffer;
  onProgress?: (bytes: number) => void;
}

export interface RangeResponse {
  statusCode: number;
  reason: string;
  headers: Record<string, string>;
  body: Readable & { readInto?: RangeBody["readInto"] };
}
