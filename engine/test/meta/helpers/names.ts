/**
 * Test stand-ins for client-side name sealing: token = SHA-256(scope ‖ name) (the real client
 * uses a keyed HMAC), sealed = the UTF-8 name (real clients AEAD-seal it). The service treats
 * both as opaque, which is all these tests need.
 */
import { createHash } from "node:crypto";
import type { SealedName } from "../../../src/meta/api.js";

export function nameToken(scope: number, name: string): Buffer {
  return createHash("sha256").update(`${scope}\u0000${name}`).digest();
}

export function sealName(scope: number, name: string): SealedName {
  return { token: nameToken(scope, name), sealed: Buffer.from(name, "utf8") };
}

export function unseal(name: SealedName): string {
  return name.sealed.toString("utf8");
}
