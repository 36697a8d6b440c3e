/**
 * Creating and opening a filespace, and managing its key slots.
 *
 * All header writes are conditional where the store can (`capabilities.conditionalPut`):
 * create-only for `createFilespace`, if-match on the etag we read for slot changes, so two
 * admins cannot silently clobber each other. On stores without conditional put (s3rver),
 * create is head-then-put and updates are last-writer-wins; both are documented as such.
 */
import { randomUUID } from "node:crypto";
import {
  createKeySlot,
  DEFAULT_BLOCK_SIZE,
  DEFAULT_CHUNK_SIZE,
  deriveMetaAtRestKey,
  IntegrityError,
  Keyring,
  KeySlotError,
  metaKeyCheck,
  type NewSlotSpec,
  openKeySlot,
  type SlotCredential,
  sealGenerationToSlot,
  WrongKeyError,
} from "../crypto/index.js";
import { ObjectNotFoundError, ObjectPreconditionFailedError } from "../object/errors.js";
import type { ObjectStore } from "../object/types.js";
import { FilespaceExistsError, FilespaceNotFoundError, FormatError, HeaderConflictError } from "./errors.js";
import {
  type FilespaceHeader,
  FORMAT_NAME,
  FORMAT_VERSION,
  HEADER_KEY,
  headerMacValid,
  headerSchema,
  parseHeader,
  serializeHeader,
  signHeader,
} from "./header.js";

export interface CreateFilespaceOptions {
  /** The first key slot (passphrase or secret). */
  slot: NewSlotSpec;
  chunkSize?: number;
  blockSize?: number;
  /** Compress new chunks by default (deflate-raw). */
  compression?: boolean;
}

/** How to unlock: a credential, optionally naming the slot to try (saves scrypt runs). */
export type Unlock = SlotCredential & { slotId?: string };

/** An unlocked filespace: the header as read, its keyring, and the etag for conditional writes. */
export interface OpenedFilespace {
  header: FilespaceHeader;
  keyring: Keyring;
  etag: string;
}

export async function createFilespace(store: ObjectStore, options: CreateFilespaceOptions): Promise<OpenedFilespace> {
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const keyring = Keyring.generate();
  const filespaceId = randomUUID();
  const now = new Date().toISOString();
  const unsigned = {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    filespaceId,
    createdAt: now,
    cipher: "AES-256-GCM",
    chunkSize,
    blockSize,
    compression: options.compression ? "deflate-raw" : "none",
    generations: [{ keyId: keyring.currentKeyId, createdAt: now }],
    slots: [await createKeySlot(options.slot, keyring, filespaceId)],
    metaKeyCheck: metaKeyCheck(deriveMetaAtRestKey(keyring)).toString("base64"),
  } as const;
  const header = validated(signHeader(unsigned as unknown as FilespaceHeader, keyring));
  const etag = await writeHeader(store, header, { create: true });
  return { header, keyring, etag };
}

/** Reads the header without unlocking anything (for `filespace info`). */
export async function readHeader(store: ObjectStore): Promise<{ header: FilespaceHeader; etag: string }> {
  let bytes: Buffer;
  let etag: string;
  try {
    // head before get (a get returns no etag through the ObjectStore interface). This order is
    // safe: if the header changes in between, our later if-match write fails instead of clobbering.
    etag = (await store.head(HEADER_KEY)).etag;
    bytes = await store.get(HEADER_KEY);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw new FilespaceNotFoundError(`no filespace at ${store.description} (${HEADER_KEY} is missing)`, {
        cause: err,
      });
    }
    throw err;
  }
  return { header: parseHeader(bytes), etag };
}

/** Unlocks the filespace: derives the slot KEK, opens its key generations, checks the header MAC. */
export async function openFilespace(store: ObjectStore, unlock: Unlock): Promise<OpenedFilespace> {
  const { header, etag } = await readHeader(store);
  const kind = "passphrase" in unlock ? "passphrase" : "secret";
  const candidates = header.slots.filter(
    (s) => s.kind === kind && (unlock.slotId === undefined || s.id === unlock.slotId),
  );
  if (candidates.length === 0) {
    const have = header.slots.map((s) => `${s.id} (${s.kind})`).join(", ");
    const which = unlock.slotId ? `${kind} key slot ${unlock.slotId}` : `${kind} key slot`;
    throw new WrongKeyError(`this filespace has no ${which}; its slots are: ${have}`);
  }
  const credential: SlotCredential =
    "passphrase" in unlock ? { passphrase: unlock.passphrase } : { secret: unlock.secret };
  for (const slot of candidates) {
    let generations: Map<number, Buffer>;
    try {
      generations = await openKeySlot(slot, credential, header.filespaceId);
    } catch (err) {
      if (err instanceof WrongKeyError) continue;
      throw err;
    }
    const keyring = new Keyring(generations);
    const missing = header.generations.filter((g) => !keyring.has(g.keyId)).map((g) => g.keyId);
    if (missing.length > 0) {
      throw new IntegrityError(`key slot ${slot.id} lacks key generation(s) ${missing.join(", ")}`);
    }
    if (!headerMacValid(header, keyring) || header.auth.keyId !== keyring.currentKeyId) {
      throw new IntegrityError(`${HEADER_KEY} failed authentication: it was modified without the filespace key`);
    }
    return { header, keyring, etag };
  }
  throw new WrongKeyError(
    `the ${kind} opens none of this filespace's ${candidates.length} ${kind} key slot(s)` +
      (kind === "passphrase" ? " — wrong passphrase?" : " — wrong secret?"),
  );
}

/** Adds a key slot holding every generation; needs an unlocked filespace. */
export async function addKeySlot(store: ObjectStore, opened: OpenedFilespace, spec: NewSlotSpec) {
  const slot = await createKeySlot(spec, opened.keyring, opened.header.filespaceId);
  return {
    ...(await update(store, opened, opened.keyring, { slots: [...opened.header.slots, slot] })),
    slotId: slot.id,
  };
}

/**
 * Deletes a key slot. On its own this does not revoke: the holder may have kept the keys.
 * Follow with `rotateKey` so new data is sealed with a generation the holder never got.
 */
export async function removeKeySlot(store: ObjectStore, opened: OpenedFilespace, slotId: string) {
  const slots = opened.header.slots.filter((s) => s.id !== slotId);
  if (slots.length === opened.header.slots.length) throw new KeySlotError(`there is no key slot ${slotId}`);
  if (slots.length === 0) throw new KeySlotError(`key slot ${slotId} is the last one; add another before removing it`);
  return update(store, opened, opened.keyring, { slots });
}

/** Adds a new key generation, sealed to every remaining slot through its public key. */
export async function rotateKey(store: ObjectStore, opened: OpenedFilespace) {
  const { keyring, keyId } = opened.keyring.withNewGeneration();
  const { filespaceId } = opened.header;
  const slots = opened.header.slots.map((s) =>
    sealGenerationToSlot(s, keyId, keyring.generationKey(keyId), filespaceId),
  );
  const generations = [...opened.header.generations, { keyId, createdAt: new Date().toISOString() }];
  return { ...(await update(store, opened, keyring, { slots, generations })), keyId };
}

/** Throws `WrongKeyError` unless `metaKey` is this filespace's meta at-rest key. */
export function verifyMetaKey(header: FilespaceHeader, metaKey: Buffer): void {
  if (metaKeyCheck(metaKey).toString("base64") !== header.metaKeyCheck) {
    throw new WrongKeyError("the metadata at-rest key does not belong to this filespace");
  }
}

async function update(
  store: ObjectStore,
  opened: OpenedFilespace,
  keyring: Keyring,
  changes: Partial<FilespaceHeader>,
): Promise<OpenedFilespace> {
  const header = validated(signHeader({ ...opened.header, ...changes }, keyring));
  const etag = await writeHeader(store, header, { etag: opened.etag });
  return { header, keyring, etag };
}

async function writeHeader(store: ObjectStore, header: FilespaceHeader, mode: { create: true } | { etag: string }) {
  const body = serializeHeader(header);
  const conditional = store.capabilities.conditionalPut;
  try {
    if ("create" in mode) {
      if (!conditional && (await exists(store))) throw new ObjectPreconditionFailedError(HEADER_KEY);
      return (await store.put(HEADER_KEY, body, conditional ? { ifNoneMatch: "*" } : {})).etag;
    }
    return (await store.put(HEADER_KEY, body, conditional ? { ifMatch: mode.etag } : {})).etag;
  } catch (err) {
    if (!(err instanceof ObjectPreconditionFailedError)) throw err;
    if ("create" in mode)
      throw new FilespaceExistsError(`a filespace already exists at ${store.description}`, { cause: err });
    throw new HeaderConflictError(`${HEADER_KEY} was changed by someone else meanwhile; re-open and retry`, {
      cause: err,
    });
  }
}

async function exists(store: ObjectStore): Promise<boolean> {
  try {
    await store.head(HEADER_KEY);
    return true;
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return false;
    throw err;
  }
}

function validated(header: FilespaceHeader): FilespaceHeader {
  const result = headerSchema.safeParse(header);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new FormatError(`refusing to write an invalid header: ${issues}`);
  }
  return header;
}
