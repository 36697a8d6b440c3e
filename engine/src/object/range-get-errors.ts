/** Errors of the lean range-GET client (range-get-connection.ts, range-get-pool.ts). */

/** A protocol or transport failure of the lean client; `code` feeds http-errors.ts. */
export class RangeGetError extends Error {
  override readonly name = "RangeGetError";
  constructor(
    message: string,
    readonly code: "ECONNRESET" | "EPROTO" | "ETIMEDOUT",
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A 2xx framed in a way the lean client does not read (chunked, no length): the SDK may resend. */
export class RangeGetRefusedError extends RangeGetError {}

/** What a caller's abort rejects with (the name the SDK and http-errors.ts recognise). */
export function abortError(signal: AbortSignal): Error {
  const err = new Error("Request aborted", { cause: signal.reason });
  err.name = "AbortError";
  return err;
}
