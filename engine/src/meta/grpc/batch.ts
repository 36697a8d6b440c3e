/**
 * The Batch rpc's wire form, shared by server and client. A batch is a list of ordinary calls:
 * each carries the rpc name and that method's own request message, encoded with the method's
 * proto serializer (so a batched call and a single call decode to the very same object and go
 * through the same zod validation). Each result is the method's encoded response or the error
 * the call would have raised on its own.
 *
 * Why: on a loaded 2-core machine one gRPC round trip costs milliseconds of scheduling and
 * grpc-js bookkeeping, far more than the service's work per call (tens of µs). Carrying many
 * concurrent calls per round trip is what turns the service's in-process rate into throughput
 * over the wire, and it hands concurrent mutations to the journal together (one group commit).
 */
import { status } from "@grpc/grpc-js";
import { isMetaErrorCode, MetaError } from "../errors.js";
import { MetaTransportError, statusForCode } from "./errors.js";
import { type MetaMethod, metaServiceConstructor, RPC_NAMES } from "./proto.js";

export const BATCH_RPC = "Batch";
/** Most calls one Batch message may carry (the server refuses more). */
export const MAX_BATCH_CALLS = 1024;

export interface WireBatchCall {
  method: string;
  request: Buffer;
}
export interface WireBatchResult {
  response?: Buffer;
  errorCode?: string;
  errorMessage?: string;
  errorStatus?: number;
}

const METHOD_BY_RPC = new Map<string, MetaMethod>(
  Object.entries(RPC_NAMES).map(([method, rpc]) => [rpc, method as MetaMethod]),
);

interface Codec {
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}

function codec(method: MetaMethod): Codec {
  const definition = metaServiceConstructor().service as unknown as Record<string, Codec>;
  const c = definition[RPC_NAMES[method]];
  if (!c) throw new Error(`meta.proto has no rpc ${RPC_NAMES[method]}`);
  return c;
}

export function encodeCall(method: MetaMethod, request: unknown): WireBatchCall {
  return { method: RPC_NAMES[method], request: codec(method).requestSerialize(request ?? {}) };
}

/** Server side: the method and its decoded request; EINVAL for an unknown rpc or bad bytes. */
export function decodeCall(call: WireBatchCall): { method: MetaMethod; request: unknown } {
  const method = METHOD_BY_RPC.get(call.method);
  if (!method) throw new MetaError("EINVAL", `batch: unknown method ${JSON.stringify(call.method)}`);
  try {
    return { method, request: codec(method).requestDeserialize(call.request ?? Buffer.alloc(0)) };
  } catch (cause) {
    throw new MetaError("EINVAL", `batch: ${call.method} request does not decode`, { cause });
  }
}

export function encodeResponse(method: MetaMethod, response: unknown): WireBatchResult {
  return { response: codec(method).responseSerialize(response ?? {}) };
}

export function encodeError(err: unknown): WireBatchResult {
  if (err instanceof MetaError)
    return { errorCode: err.code, errorMessage: err.message, errorStatus: statusForCode(err.code) };
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { errorCode: "", errorMessage: message, errorStatus: status.INTERNAL };
}

/** Client side: the call's response, or the error it carries (the same error a single call raises). */
export function decodeResult(
  method: MetaMethod,
  result: WireBatchResult | undefined,
): { ok: true; value: unknown } | { ok: false; error: Error } {
  if (!result) return { ok: false, error: new MetaTransportError(status.INTERNAL, `${method}: batch result missing`) };
  if (result.errorCode !== undefined) {
    const message = result.errorMessage ?? "";
    const code = result.errorCode;
    if (isMetaErrorCode(code)) {
      // MetaError's message is "<code>: <text>"; rebuild it from the text alone.
      const text = message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message;
      return { ok: false, error: new MetaError(code, text) };
    }
    const st = (result.errorStatus ?? status.INTERNAL) as status;
    return { ok: false, error: new MetaTransportError(st, `${method}: ${status[st]}: ${message}`) };
  }
  return { ok: true, value: codec(method).responseDeserialize(result.response ?? Buffer.alloc(0)) };
}
