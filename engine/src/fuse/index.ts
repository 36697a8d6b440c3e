export { FuseNativeMount } from "./fuse-native-mount.js";
export * from "./handover.js";
export * from "./mount.js";
export { loadNativeAddon } from "./native.js";
export { NativeFuseMount } from "./native-mount.js";
export { setReadAhead } from "./readahead.js";
export * from "./types.js";
