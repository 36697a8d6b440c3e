// The curated public entry. Layers with many modules (meta, data, vfs, fuse) are reached
// through their own subpaths (`@filespaces/engine/meta`, …) to keep this import light.
export * from "./crypto/index.js";
export * from "./format/index.js";
export * from "./object/index.js";
