/**
 * Access tokens: `fsm1.<claims base64url>.<HMAC-SHA256 base64url>`, signed with the
 * service's token key. Claims say who the client is, what it may do (ro | rw | admin), the
 * subtree it is confined to (an inode the client sees as its root) and when the token
 * expires. The service verifies every call; verified tokens are cached (bounded) so the
 * hot path costs one map lookup, not an HMAC.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { type AccessMode, ROOT_INO } from "../api.js";
import { MetaError } from "../errors.js";

const PREFIX = "fsm1";

export interface AccessClaims {
  client: string;
  mode: AccessMode;
  /** Inode the client sees as "/" (ROOT_INO = whole filespace). */
  subtreeRoot: number;
  /** Expiry, ms since epoch; omitted = no expiry. */
  expiresAt?: number;
}

const claimsSchema = z.object({
  client: z.string().min(1, "client must be a non-empty string").max(256),
  mode: z.enum(["ro", "rw", "admin"], { message: "mode must be ro, rw or admin" }),
  subtreeRoot: z.number().int().positive("subtreeRoot must be a positive inode number"),
  expiresAt: z.number().int().positive().optional(),
});

function sign(key: Buffer, body: string): Buffer {
  return createHmac("sha256", key).update(PREFIX).update(".").update(body).digest();
}

export function issueToken(key: Buffer, claims: AccessClaims): string {
  const parsed = claimsSchema.safeParse(claims);
  if (!parsed.success) throw new MetaError("EINVAL", `invalid token claims: ${parsed.error.issues[0]?.message}`);
  if (parsed.data.mode === "admin" && parsed.data.subtreeRoot !== ROOT_INO)
    throw new MetaError("EINVAL", "admin tokens cannot be confined to a subtree");
  const body = Buffer.from(JSON.stringify(parsed.data)).toString("base64url");
  return `${PREFIX}.${body}.${sign(key, body).toString("base64url")}`;
}

/** Verifies tokens against one key; caches successes (expiry is still checked per call). */
export class TokenVerifier {
  readonly #cache = new Map<string, AccessClaims>();

  constructor(
    readonly key: Buffer,
    readonly clock: () => number,
    readonly cacheSize = 10_000,
  ) {
    if (key.length < 32) throw new RangeError("token key must be at least 32 bytes");
  }

  verify(token: unknown): AccessClaims {
    if (typeof token !== "string" || token.length === 0) throw new MetaError("UNAUTHENTICATED", "missing access token");
    let claims = this.#cache.get(token);
    if (!claims) {
      claims = this.#check(token);
      if (this.#cache.size >= this.cacheSize) this.#cache.clear();
      this.#cache.set(token, claims);
    }
    if (claims.expiresAt !== undefined && this.clock() >= claims.expiresAt)
      throw new MetaError("UNAUTHENTICATED", `access token for ${claims.client} expired`);
    return claims;
  }

  #check(token: string): AccessClaims {
    const parts = token.split(".");
    if (parts.length !== 3 || parts[0] !== PREFIX) throw new MetaError("UNAUTHENTICATED", "malformed access token");
    const [, body, mac] = parts as [string, string, string];
    const want = sign(this.key, body);
    const got = Buffer.from(mac, "base64url");
    if (got.length !== want.length || !timingSafeEqual(got, want))
      throw new MetaError("UNAUTHENTICATED", "access token signature does not verify");
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
    } catch (cause) {
      throw new MetaError("UNAUTHENTICATED", "access token claims are not JSON", { cause });
    }
    const parsed = claimsSchema.safeParse(raw);
    if (!parsed.success)
      throw new MetaError("UNAUTHENTICATED", `access token claims invalid: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }
}
