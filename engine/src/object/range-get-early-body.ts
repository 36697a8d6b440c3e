/**
 * Body bytes of a lean range GET that arrive before anyone claims the body (always those that
 * come in the same read as the response head), and the scratch buffer the socket reads into
 * while no body is claimed.
 *
 * Lending instead of copying: when such bytes sit in the scratch buffer, the scratch is lent to
 * the held parts and a second one (`spare`) takes its place, instead of copying them into a
 * fresh allocation. On claim into a caller's buffer the bytes are copied out and the lent buffer
 * becomes the spare again; on claim as a stream the consumer keeps the parts, so the lent buffer
 * is theirs and a new spare is allocated.
 */

/** Size of the scratch buffer the socket reads into while no body is claimed. */
export const SCRATCH = 64 * 1024;

export class EarlyBody {
  /** Where the socket reads while no body is claimed (the head, and body bytes that come with it). */
  scratch: Buffer = Buffer.allocUnsafe(SCRATCH);
  /** Bytes held so far. */
  bytes = 0;
  private spare: Buffer | undefined = Buffer.allocUnsafe(SCRATCH);
  private lent?: Buffer;
  private parts: Buffer[] = [];

  /** Holds `data` until the body is claimed; `owned`: memory nobody else reuses (kept as is). */
  add(data: Buffer, owned: boolean): void {
    this.parts.push(owned ? data : this.keep(data));
    this.bytes += data.length;
  }

  /** Copies the held bytes to `buffer` at `pos`; returns the position after them. */
  copyInto(buffer: Buffer, pos: number): number {
    for (const part of this.take()) {
      part.copy(buffer, pos);
      pos += part.length;
    }
    if (this.lent) this.spare = this.lent;
    this.lent = undefined;
    return pos;
  }

  /** Hands the held parts to a stream consumer, which keeps them. */
  handOver(push: (part: Buffer) => void): void {
    for (const part of this.take()) push(part);
    // The stream's consumer keeps those parts: a lent scratch is theirs now.
    if (this.lent) this.spare = Buffer.allocUnsafe(SCRATCH);
    this.lent = undefined;
  }

  private take(): Buffer[] {
    const parts = this.parts;
    this.parts = [];
    this.bytes = 0;
    return parts;
  }

  /** Keeps bytes read into the scratch buffer by lending it (see the top of this file). */
  private keep(data: Buffer): Buffer {
    if (!this.spare || data.buffer !== this.scratch.buffer) return Buffer.from(data);
    this.lent = this.scratch;
    this.scratch = this.spare;
    this.spare = undefined;
    return data;
  }
}
