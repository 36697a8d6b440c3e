/**
 * Reading an HTTP response body into one buffer without the SDK's collector.
 *
 * Why: `transformToByteArray` gathers the body as a list of socket chunks and concatenates
 * them: a second copy, and a fresh allocation per GET (a fresh 4 MiB allocation costs tens of
 * milliseconds of page faults on small VMs, a reused buffer about one). Knowing the length from
 * Content-Length, the body is copied once, into the caller's reusable buffer when it offers one
 * (`GetOptions.into`) that is large enough, else into one allocation of the right size; as bytes
 * land in the caller's buffer, `onProgress` tells it how many are final.
 *
 * A body that can place its bytes itself (`readInto`, the lean range-GET client's, see
 * range-get-connection.ts) is asked to: then the socket reads straight into `into`, no copy.
 */

/** A body that reads itself into a buffer: `into` when it fits, else one it allocates. */
export interface ReadableInto {
  readInto(into: Buffer | undefined, onProgress?: (bytes: number) => void): Promise<Buffer>;
}

/** Bytes of `body` in one buffer: a view of `into` when it fits, else a fresh buffer. */
export async function readBody(
  body: AsyncIterable<Uint8Array>,
  contentLength: number | undefined,
  into?: Buffer,
  onProgress?: (bytes: number) => void,
): Promise<Buffer> {
  const self = body as AsyncIterable<Uint8Array> & Partial<ReadableInto>;
  if (typeof self.readInto === "function") return self.readInto(into, onProgress);
  if (contentLength === undefined || !Number.isSafeInteger(contentLength) || contentLength < 0) {
    const parts: Buffer[] = [];
    for await (const chunk of body) parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    return Buffer.concat(parts);
  }
  let out = into && into.length >= contentLength ? into : Buffer.allocUnsafe(contentLength);
  let pos = 0;
  for await (const chunk of body) {
    if (pos + chunk.byteLength > out.length) {
      // The server sent more than it announced: keep everything rather than truncate silently.
      const grown = Buffer.allocUnsafe(Math.max(out.length * 2, pos + chunk.byteLength));
      out.copy(grown, 0, 0, pos);
      out = grown;
    }
    out.set(chunk, pos);
    pos += chunk.byteLength;
    if (out === into) onProgress?.(pos);
  }
  return out.subarray(0, pos);
}
