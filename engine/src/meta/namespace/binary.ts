/** Growable little-endian binary writer and its reader (checkpoint images). */

export class BinWriter {
  // Fixed-size chunks joined once at the end: growing one buffer by doubling re-copies it and
  // churns external memory, which made V8 run extra full GCs while exporting a 1M-inode image.
  readonly #chunks: Buffer[] = [];
  readonly #chunkBytes: number;
  #buf: Buffer;
  #pos = 0;

  constructor(chunkBytes = 4 << 20) {
    this.#chunkBytes = Math.max(64, chunkBytes);
    this.#buf = Buffer.allocUnsafe(this.#chunkBytes);
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    this.#chunks.push(this.#buf.subarray(0, this.#pos));
    this.#buf = Buffer.allocUnsafe(Math.max(this.#chunkBytes, n));
    this.#pos = 0;
  }

  u8(v: number): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = v;
  }
  u16(v: number): void {
    this.#ensure(2);
    this.#pos = this.#buf.writeUInt16LE(v, this.#pos);
  }
  u32(v: number): void {
    this.#ensure(4);
    this.#pos = this.#buf.writeUInt32LE(v, this.#pos);
  }
  f64(v: number): void {
    this.#ensure(8);
    this.#pos = this.#buf.writeDoubleLE(v, this.#pos);
  }
  bytes(b: Buffer): void {
    this.u32(b.length);
    this.#ensure(b.length);
    this.#pos += b.copy(this.#buf, this.#pos);
  }
  /** A string in a one-byte or two-byte encoding, length-prefixed in bytes. */
  str(s: string, encoding: "latin1" | "utf8" | "utf16le"): void {
    const len = Buffer.byteLength(s, encoding);
    this.u32(len);
    this.#ensure(len);
    this.#pos += this.#buf.write(s, this.#pos, len, encoding);
  }
  finish(): Buffer {
    if (this.#chunks.length === 0) return this.#buf.subarray(0, this.#pos);
    return Buffer.concat([...this.#chunks, this.#buf.subarray(0, this.#pos)]);
  }
}

export class BinReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  #need(n: number): void {
    if (this.pos + n > this.buf.length) throw new RangeError("metadata image is truncated");
  }
  u8(): number {
    this.#need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.#need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.#need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(): Buffer {
    const len = this.u32();
    this.#need(len);
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return b;
  }
  str(encoding: "latin1" | "utf8" | "utf16le"): string {
    const len = this.u32();
    this.#need(len);
    const s = this.buf.toString(encoding, this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}
