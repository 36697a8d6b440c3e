/**
 * The body of a lean ranged GET's 2xx answer (range-get-connection.ts reads it): either a normal
 * stream, or `readInto`, which has the socket read straight into the caller's buffer.
 */
import { Readable } from "node:stream";
import type { BodyTarget } from "./range-get-types.js";

/**
 * The body of a 2xx answer: a normal stream for the SDK, and `readInto` for readBody (body.ts),
 * which lets the bytes land in the caller's buffer. One of the two, once.
 */
export class RangeBody extends Readable {
  private done?: { resolve: (b: Buffer) => void; reject: (e: Error) => void };
  private claimed = false;
  private finished = false;
  private failure?: Error;
  /** The buffer claimed at head time and the read's result (claimEarly). */
  private early?: { buffer: Buffer; result: Promise<Buffer> };

  constructor(
    private readonly conn: { claim(target: BodyTarget | "stream"): void; destroy(): void },
    readonly contentLength: number,
  ) {
    super();
  }

  /** Reads the body into `into` when it fits (reporting bytes in place), else into a fresh buffer. */
  readInto(into: Buffer | undefined, onProgress?: (bytes: number) => void): Promise<Buffer> {
    if (this.early && into === this.early.buffer) {
      const result = this.early.result;
      this.early = undefined;
      return result;
    }
    if (this.claimed) return Promise.reject(new Error("RangeBody: already consumed"));
    this.claimed = true;
    if (this.failure) return Promise.reject(this.failure);
    const fits = into !== undefined && into.length >= this.contentLength;
    const buffer = fits ? into : Buffer.allocUnsafe(this.contentLength);
    return new Promise((resolve, reject) => {
      this.done = { resolve, reject };
      this.conn.claim({ buffer, pos: 0, end: this.contentLength, onProgress: fits ? onProgress : undefined });
    });
  }

  /**
   * @internal Claimed by the connection as the head arrives, for the buffer the request named;
   * `readInto` of that buffer gets the result. Nobody asking for it is harmless: the bytes land
   * in the buffer the caller lent for exactly this.
   */
  claimEarly(buffer: Buffer, onProgress?: (bytes: number) => void): void {
    this.claimed = true;
    const result = new Promise<Buffer>((resolve, reject) => {
      this.done = { resolve, reject };
    });
    result.catch(() => {}); // observed by readInto, if anyone asks
    this.early = { buffer, result };
    this.conn.claim({ buffer, pos: 0, end: this.contentLength, onProgress });
  }

  override _read(): void {
    if (this.claimed) return;
    this.claimed = true;
    if (this.failure) this.destroy(this.failure);
    else this.conn.claim("stream");
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // A consumer that drops the body before its end: the connection cannot be reused.
    if (!this.finished && !this.failure) this.conn.destroy();
    cb(err);
  }

  /** @internal The last byte arrived (`bytes`: the readInto result). */
  finish(bytes: Buffer | undefined): void {
    this.finished = true;
    if (this.done) this.done.resolve(bytes!);
    else this.push(null);
  }

  /** @internal The connection failed before the last byte. */
  fail(err: Error): void {
    this.failure = err;
    if (this.done) this.done.reject(err);
    else if (this.claimed) this.destroy(err);
  }
}
