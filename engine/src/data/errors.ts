/** Typed data-path errors; the FUSE layer maps them to errno (EIO, ENOSPC). */

export class DataPathError extends Error {
  override name = "DataPathError";
}

/** A block failed authentication or could not be fetched: an I/O error, never data. */
export class BlockReadError extends DataPathError {
  override name = "BlockReadError";
  constructor(
    readonly chunkId: string,
    readonly block: number,
    options?: { cause?: unknown },
  ) {
    super(
      `cannot read block ${block} of chunk ${chunkId}: ${(options?.cause as Error)?.message ?? "unknown"}`,
      options,
    );
  }
}

/**
 * The write-back log holds `maxBacklogBytes` not yet committed (the object store or the
 * metadata service has been unreachable for too long); new writes fail instead of filling the disk.
 */
export class WriteBackFullError extends DataPathError {
  override name = "WriteBackFullError";
  constructor(
    readonly backlogBytes: number,
    readonly limitBytes: number,
    options?: { cause?: unknown },
  ) {
    super(
      `write-back log is full: ${backlogBytes} bytes waiting for upload/commit (limit ${limitBytes}); ` +
        `the object store or metadata service is unreachable${options?.cause ? ` (last error: ${(options.cause as Error).message})` : ""}`,
      options,
    );
  }
}

/** The write-back log directory holds something this version cannot replay. */
export class WriteBackLogError extends DataPathError {
  override name = "WriteBackLogError";
}

/** The write-back has been closed (unmount) and accepts no more writes. */
export class WriteBackClosedError extends DataPathError {
  override name = "WriteBackClosedError";
  constructor() {
    super("write-back is closed");
  }
}
