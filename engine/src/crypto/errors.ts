/** Authentication of sealed bytes failed: tampered, truncated, swapped, or a wrong key. Never data. */
export class IntegrityError extends Error {
  override name = "IntegrityError";
}

/** The passphrase or secret does not open any wrap of the filespace key. */
export class WrongKeyError extends Error {
  override name = "WrongKeyError";
}
