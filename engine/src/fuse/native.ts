/**
 * Loads the project's libfuse3 addon (engine/native/build/Release/filespace_fuse.node, built by
 * `npm run build:native`). `loadNativeAddon()` returns undefined with the reason when it is not
 * available, so the adapter can fall back to fuse-native.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { NativeAddon } from "./native-ops.js";

const require = createRequire(import.meta.url);

/** Works from engine/src/fuse (tests) and engine/dist/fuse (built code) alike. */
export const nativeAddonPath = fileURLToPath(
  new URL("../../native/build/Release/filespace_fuse.node", import.meta.url),
);

let cached: { addon?: NativeAddon; reason?: string } | undefined;

export function loadNativeAddon(): { addon?: NativeAddon; reason?: string } {
  if (cached) return cached;
  if (!existsSync(nativeAddonPath)) {
    cached = { reason: `native addon not built (${nativeAddonPath}); run npm run build:native -w engine` };
  } else {
    try {
      cached = { addon: require(nativeAddonPath) as NativeAddon };
    } catch (err) {
      cached = { reason: `native addon failed to load: ${(err as Error).message}` };
    }
  }
  return cached;
}

export function loadFuseNative(): { Fuse?: FuseNativeClass; reason?: string } {
  try {
    return { Fuse: require("fuse-native") as FuseNativeClass };
  } catch (err) {
    return { reason: `fuse-native unavailable: ${(err as Error).message}` };
  }
}

/** The parts of fuse-native's class the fallback uses. */
export interface FuseNativeClass {
  new (mnt: string, ops: object, opts: object): FuseNativeInstance;
  unmount(mnt: string, cb: (err: Error | null) => void): void;
}
export interface FuseNativeInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
}
