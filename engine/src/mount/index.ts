export * from "./control-client.js";
export * from "./control-protocol.js";
export * from "./errors.js";
export * from "./options.js";
export * from "./run-mount.js";
export * from "./socket-path.js";
