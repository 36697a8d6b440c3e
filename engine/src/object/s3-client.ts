/**
 * The SDK client of an S3 store and the connections under it.
 *
 * Retries: the SDK is built with `maxAttempts: 1`; the retry wrapper (retry.ts, applied by
 * `openObjectStore`) is the only retry layer, so attempts never multiply.
 *
 * Connections: ranged GETs are signed and sent by s3-direct-get.ts, without the SDK's stack, over
 * our lean client (range-get-pool.ts), which reads bodies straight into the caller's buffer;
 * `preconnect()` warms a connection of its pool, since a ranged GET is what follows a read-open.
 * (Behind an endpoint with a path of its own, ranged GETs go through the SDK, over the same lean
 * pool: s3-request-handler.ts.) Every other request goes through the SDK's handler with our own
 * keep-alive agents (warm-agent.ts). `directGets=false` in the URL (`directRangeGets: false`)
 * has the SDK build and parse ranged GETs (still over the lean pool); `leanGets=false`
 * (`leanRangeGets: false`) sends them through the SDK and its handler too.
 */
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { AwsCredentialIdentity, Provider } from "@smithy/types";
import type { RangeGetPool } from "./range-get-pool.js";
import type { Endpoint } from "./range-get-types.js";
import { type S3ObjectStoreConfig, storeOrigin } from "./s3-config.js";
import { encodeKey, S3DirectGet } from "./s3-direct-get.js";
import { S3RangeRequestHandler, type SdkRequestHandler } from "./s3-request-handler.js";
import { WarmHttpAgent, WarmHttpsAgent } from "./warm-agent.js";

/** Connections per origin, as node's agents are given below. */
const MAX_SOCKETS = 50;

export interface S3Connections {
  client: S3Client;
  /** The keep-alive agent under the SDK's handler. */
  agent: WarmHttpAgent | WarmHttpsAgent;
  /** The lean range-GET client, unless `leanRangeGets: false`. */
  lean?: { handler: S3RangeRequestHandler; pool: RangeGetPool };
  /** Ranged GETs without the SDK's stack, over the lean pool (s3-direct-get.ts). */
  direct?: S3DirectGet;
}

export function createS3Connections(config: S3ObjectStoreConfig): S3Connections {
  const tls = !config.endpoint || new URL(config.endpoint).protocol === "https:";
  const origin = storeOrigin(config);
  const trust = config.ca ? { ca: config.ca } : {};
  const agent = tls ? new WarmHttpsAgent(trust, config.warm, origin) : new WarmHttpAgent({}, config.warm, origin);
  const clientConfig: S3ClientConfig = {
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    maxAttempts: 1,
    requestHandler: {
      ...(tls ? { httpsAgent: agent as WarmHttpsAgent } : { httpAgent: agent as WarmHttpAgent }),
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
  const client = new S3Client(clientConfig);
  if (config.leanRangeGets === false) return { client, agent };
  // The SDK reads `config.requestHandler` on every send, so wrapping it after construction
  // keeps the handler it built (with our agents) for everything but ranged GETs.
  const resolved = client.config as unknown as {
    requestHandler: SdkRequestHandler;
    credentials: Provider<AwsCredentialIdentity>;
    systemClockOffset?: number;
  };
  const handler = new S3RangeRequestHandler(resolved.requestHandler, {
    maxSockets: MAX_SOCKETS,
    requestTimeoutMs: config.requestTimeoutMs ?? 30_000,
    connectTimeoutMs: 5_000,
    warm: config.warm,
    tls: trust,
  });
  resolved.requestHandler = handler;
  const endpoint: Endpoint = { protocol: tls ? "https:" : "http:", ...origin, ...(tls ? { tls: trust } : {}) };
  const pool = handler.pool(endpoint);
  const pathPrefix = directPathPrefix(config);
  const direct =
    pathPrefix === undefined
      ? undefined
      : new S3DirectGet(
          {
            endpoint,
            pathPrefix,
            region: config.region,
            credentials: resolved.credentials,
            clockOffsetMs: () => resolved.systemClockOffset ?? 0,
          },
          pool,
        );
  if (direct) handler.leanGets = false;
  return { client, agent, lean: { handler, pool }, direct };
}

/**
 * The request path before the key: `/bucket/` (path style) or `/` (virtual host); none when the
 * endpoint has a path of its own (a gateway under a prefix): such stores keep the SDK's GETs.
 */
function directPathPrefix(config: S3ObjectStoreConfig): string | undefined {
  if (config.directRangeGets === false) return undefined;
  const base = config.endpoint ? new URL(config.endpoint).pathname : "/";
  if (base !== "/" && base !== "") return undefined;
  return config.forcePathStyle ? `/${encodeKey(config.bucket)}/` : "/";
}
