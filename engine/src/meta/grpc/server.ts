/**
 * gRPC face of a MetaApi (normally the in-process MetaService over the durable journal).
 *
 * Per call: refuse a call whose deadline already passed (the client has given up; for a
 * mutation the retry will carry the same requestId anyway), validate the message with zod
 * (INVALID_ARGUMENT/EINVAL naming the field), lift the call context out of the metadata
 * (bearer token, session id) and hand both to the API, which does the access check. Errors
 * come back as status + `x-meta-error` trailer (errors.ts).
 *
 * Shutdown drains: no new calls are taken (clients see UNAVAILABLE and retry against the
 * next instance) while the ones in flight finish, bounded by a grace period.
 */
import * as grpc from "@grpc/grpc-js";
import type { CallContext, MetaApi } from "../api.js";
import { MetaError } from "../errors.js";
import { toServiceError } from "./errors.js";
import {
  AUTH_HEADER,
  META_METHODS,
  type MetaMethod,
  metaServiceConstructor,
  RPC_NAMES,
  SESSION_HEADER,
} from "./proto.js";
import { describeIssues, REQUEST_SCHEMAS } from "./schemas.js";

/** Large enough for a readdirplus page or a chunk-reference listing of a big filespace. */
export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

export interface TlsFiles {
  /** PEM certificate chain. */
  cert: Buffer;
  /** PEM private key. */
  key: Buffer;
}

export interface MetaGrpcServerOptions {
  api: MetaApi;
  /** "host:port"; port 0 picks a free one (see `address`). */
  listen: string;
  tls?: TlsFiles;
  /** Server keepalive ping period; a dead client connection is noticed after period + 10 s. Default 30 s. */
  keepaliveMs?: number;
  /** Observer for every finished call (metrics, logs). `code` is the gRPC status name. */
  onCall?: (method: MetaMethod, code: string, seconds: number) => void;
}

export class MetaGrpcServer {
  readonly #server: grpc.Server;
  readonly #onCall: MetaGrpcServerOptions["onCall"];
  #address = "";
  #inFlight = 0;

  private constructor(server: grpc.Server, onCall: MetaGrpcServerOptions["onCall"]) {
    this.#server = server;
    this.#onCall = onCall;
  }

  /** "host:port" actually bound. */
  get address(): string {
    return this.#address;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  static async start(options: MetaGrpcServerOptions): Promise<MetaGrpcServer> {
    const keepaliveMs = options.keepaliveMs ?? 30_000;
    const server = new grpc.Server({
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
      "grpc.keepalive_time_ms": keepaliveMs,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
    });
    const self = new MetaGrpcServer(server, options.onCall);
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of META_METHODS) handlers[RPC_NAMES[method]] = self.#handler(options.api, method);
    server.addService(metaServiceConstructor().service, handlers);

    const credentials = options.tls
      ? grpc.ServerCredentials.createSsl(null, [{ private_key: options.tls.key, cert_chain: options.tls.cert }], false)
      : grpc.ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(options.listen, credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    const host = options.listen.slice(0, options.listen.lastIndexOf(":"));
    self.#address = `${host}:${port}`;
    return self;
  }

  #handler(api: MetaApi, method: MetaMethod): grpc.handleUnaryCall<unknown, unknown> {
    const schema = REQUEST_SCHEMAS[method];
    return (call, callback) => {
      const started = performance.now();
      const finish = (err: Partial<grpc.ServiceError> | null, response?: unknown) => {
        this.#inFlight--;
        const code = err ? grpc.status[err.code ?? grpc.status.UNKNOWN] : "OK";
        this.#onCall?.(method, code ?? "UNKNOWN", (performance.now() - started) / 1000);
        callback(err, response);
      };
      this.#inFlight++;
      const deadline = call.getDeadline();
      const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
      if (call.cancelled || (Number.isFinite(deadlineMs) && deadlineMs <= Date.now())) {
        finish({ code: grpc.status.DEADLINE_EXCEEDED, details: `${method}: deadline passed before the call started` });
        return;
      }
      const parsed = schema.safeParse(call.request ?? {});
      if (!parsed.success) {
        finish(toServiceError(new MetaError("EINVAL", `${method}: ${describeIssues(parsed.error)}`)));
        return;
      }
      const ctx = contextFrom(call.metadata);
      const invoke = api[method] as (ctx: CallContext, req: unknown) => Promise<unknown>;
      let pending: Promise<unknown>;
      try {
        pending = invoke.call(api, ctx, parsed.data);
      } catch (err) {
        pending = Promise.reject(err);
      }
      pending.then(
        (response) => finish(null, response ?? {}),
        (err: unknown) => finish(toServiceError(err)),
      );
    };
  }

  /**
   * Stop taking calls, let those in flight finish (up to `graceMs`), then close every
   * connection. Resolves when the port is free.
   */
  async drain(graceMs = 10_000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Immediate stop: in-flight calls fail with UNAVAILABLE/CANCELLED. */
  close(): void {
    this.#server.forceShutdown();
  }
}

const BEARER = /^Bearer\s+(.+)$/i;

function contextFrom(metadata: grpc.Metadata): CallContext {
  const auth = metadata.get(AUTH_HEADER)[0];
  const match = typeof auth === "string" ? BEARER.exec(auth) : null;
  const ctx: CallContext = { token: match?.[1]?.trim() ?? "" };
  const session = metadata.get(SESSION_HEADER)[0];
  if (typeof session === "string" && session.length > 0) ctx.sessionId = session;
  return ctx;
}
