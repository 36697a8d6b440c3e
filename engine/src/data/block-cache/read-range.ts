import { open } from "node:fs/promises";

/**
 * Reads `length` bytes of `file` at `offset` into the start of `into`; returns how many it got
 * (fewer when the file is shorter). Open and read errors are thrown. The one read loop of the
 * disk cache, for the cache itself and for the run sources that read its files.
 */
export async function readRange(file: string, offset: number, into: Buffer, length: number): Promise<number> {
  let got = 0;
  const fh = await open(file, "r");
  try {
    while (got < length) {
      const { bytesRead } = await fh.read(into, got, length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return got;
}
