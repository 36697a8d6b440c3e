export { MetaClient, type MetaClientOptions } from "./client.js";
export { fromServiceError, MetaTransportError, statusForCode, toServiceError } from "./errors.js";
export { AUTH_HEADER, ERROR_CODE_TRAILER, META_METHODS, type MetaMethod, RPC_NAMES, SESSION_HEADER } from "./proto.js";
export {
  deriveAccessTokenKey,
  type MetaServerProcessOptions,
  type RunningMetaServer,
  startMetaServer,
} from "./serve.js";
export { MAX_MESSAGE_BYTES, MetaGrpcServer, type MetaGrpcServerOptions, type TlsFiles } from "./server.js";
