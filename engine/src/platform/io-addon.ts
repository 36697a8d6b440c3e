/**
 * The small native I/O and crypto helpers (engine/native/src/io.cc, addon `filespace_io`): what
 * Node does not offer and the hot paths need — the address alignment of a buffer (O_DIRECT),
 * AES-256-GCM decryption into a caller's buffer, and transparent huge pages for big buffers.
 * Optional: `ioAddon()` is null where the addon was not built, and every caller has a plain-Node
 * fallback.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export interface IoAddon {
  addressModulo(view: Uint8Array, modulus: number): number;
  /** Decrypts `ciphertext` into `out`; false (and `out` zeroed) when the tag does not verify. */
  gcmOpenInto(
    key: Uint8Array,
    iv: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
    out: Uint8Array,
  ): boolean;
  /** Encrypts `plaintext` into `out` (AES-256-GCM) and writes the tag into `tag` (16 bytes). */
  gcmSealInto?(
    key: Uint8Array,
    iv: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    tag: Uint8Array,
  ): void;
  /**
   * AES-256-CTR of `input` into `out` (may be the same memory), starting `skip` (< 16) bytes into
   * the keystream block of `counter`.
   */
  ctrXorInto?(key: Uint8Array, counter: Uint8Array, skip: number, input: Uint8Array, out: Uint8Array): void;
  /**
   * Writes `data` to `tmp` (O_DIRECT when `direct`), truncates it to `length`, renames it to
   * `final`: one thread-pool job. Resolves to 0 or a negative errno (nothing left at `tmp`).
   */
  writeFileAtomic?(tmp: string, final: string, data: Uint8Array, length: number, direct: boolean): Promise<number>;
  /** madvise(MADV_HUGEPAGE) on the 2 MiB-aligned part of `view`; false when refused (THP off). */
  adviseHugePages?(view: Uint8Array): boolean;
}

/** engine/native/build/Release/filespace_io.node, from engine/src and engine/dist alike. */
const addonPath = fileURLToPath(new URL("../../native/build/Release/filespace_io.node", import.meta.url));
let addon: IoAddon | null | undefined;

export function ioAddon(): IoAddon | null {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)(addonPath) as IoAddon;
    } catch {
      addon = null; // not built here: callers fall back to plain Node
    }
  }
  return addon;
}
