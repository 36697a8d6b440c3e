/**
 * `openObjectStore(url)`: the single entry point that turns a store URL into an ObjectStore.
 * Importing this module registers the built-in schemes (file, memory, s3, azure). The cloud
 * backends load their SDKs on first use: they cost ~1 s of start-up for every CLI call otherwise.
 */
import { z } from "zod";
import "./fs.js";
import "./memory.js";
import { ObjectStoreError } from "./errors.js";
import { type OpenObjectStoreOptions, openerFor, registerObjectStoreScheme } from "./registry.js";
import type { ObjectStore } from "./types.js";

export type { OpenObjectStoreOptions } from "./registry.js";

registerObjectStoreScheme("s3", async (url, options) => (await import("./s3.js")).openS3FromUrl(url, options));
registerObjectStoreScheme("azure", async (url, options) => (await import("./azure.js")).openAzureFromUrl(url, options));

const storeUrl = z.string().trim().min(1, "expected a non-empty store URL such as file:///var/lib/filespaces");

/** Parses and validates `url`, then opens it with the backend registered for its scheme. */
export async function openObjectStore(url: string, options: OpenObjectStoreOptions = {}): Promise<ObjectStore> {
  const checked = storeUrl.safeParse(url);
  if (!checked.success) throw new ObjectStoreError(`invalid object store URL: ${checked.error.issues[0]?.message}`);
  let parsed: URL;
  try {
    parsed = new URL(checked.data);
  } catch (cause) {
    throw new ObjectStoreError(
      `invalid object store URL ${JSON.stringify(url)}: expected scheme://location (file:///dir, memory://name, s3://bucket/prefix, azure://container/prefix)`,
      undefined,
      { cause },
    );
  }
  return openerFor(parsed.protocol.replace(/:$/, ""))(parsed, options);
}
