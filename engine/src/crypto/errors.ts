/** Authentication of sealed bytes failed: tampered, truncated, swapped, or a wrong key. Never data. */
export class IntegrityError extends Error {
  override name = "IntegrityError";
}

/**
 * Sealed bytes name a key generation this keyring does not hold: either tampering, or the
 * holder was removed from the filespace before that generation was created.
 */
export class UnknownKeyGenerationError extends IntegrityError {
  override name = "UnknownKeyGenerationError";
  constructor(
    readonly keyId: number,
    options?: { cause?: unknown },
  ) {
    super(`sealed data names key generation ${keyId}, which this keyring does not hold`, options);
  }
}

/** A compressed chunk cannot be opened by range: read and `open()` it whole. */
export class CompressedChunkRangeError extends Error {
  override name = "CompressedChunkRangeError";
}

/** The passphrase or secret does not open any wrap of the filespace key. */
export class WrongKeyError extends Error {
  override name = "WrongKeyError";
}

/** A key-management request that cannot be honoured (e.g. removing the last key slot). */
export class KeySlotError extends Error {
  override name = "KeySlotError";
}
