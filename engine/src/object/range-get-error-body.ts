/**
 * The body of a non-2xx answer on a lean range-GET connection (404, 416, 5xx...): read whole, at
 * most MAX_ERROR_BODY bytes, framed by Content-Length, chunked, or (neither) the end of the
 * connection, then handed to the SDK, which parses it as it always did.
 */
import { RangeGetError } from "./range-get-errors.js";
import { decodeChunked } from "./range-get-head.js";

const MAX_ERROR_BODY = 1024 * 1024;

export class ErrorBodyReader {
  private parts: Buffer[] = [];

  /** `length`: the Content-Length (Infinity when the body runs to the end of the connection). */
  constructor(
    private readonly chunked: boolean,
    private readonly length: number,
  ) {}

  /** Adds bytes (copied); the whole body once it is complete, an error if the framing breaks. */
  add(data: Buffer): Buffer | "incomplete" | RangeGetError {
    this.parts.push(Buffer.from(data));
    const all = this.parts.reduce((s, p) => s + p.length, 0);
    if (all > MAX_ERROR_BODY) return new RangeGetError(`error response body over ${MAX_ERROR_BODY} bytes`, "EPROTO");
    const whole = Buffer.concat(this.parts);
    this.parts = [whole];
    if (this.chunked) {
      const decoded = decodeChunked(whole);
      if (decoded === "incomplete") return "incomplete";
      if (decoded instanceof Error) return new RangeGetError(decoded.message, "EPROTO");
      this.parts = [];
      return decoded;
    }
    if (whole.length < this.length) return "incomplete";
    if (whole.length > this.length) return new RangeGetError("response longer than its Content-Length", "EPROTO");
    this.parts = [];
    return whole;
  }
}
