/**
 * The hand-over form of MemoryVfs's node store (see fuse/handover): plain JSON-able data, file
 * content and xattr values in base64. Inodes, lookup counts and open handles are carried so the
 * successor process answers the kernel exactly as its predecessor would; locks are not carried.
 */
import type { DirSlot, MemoryHandle, MemoryNode, NodeStoreState } from "./memory-nodes.js";

export interface MemoryVfsSnapshot {
  nodes: Array<
    Omit<MemoryNode, "data" | "entries" | "xattrs"> & {
      data: string;
      entries: Array<[string, DirSlot]> | undefined;
      xattrs: Array<[string, string]>;
    }
  >;
  handles: Array<[number, MemoryHandle]>;
  nextIno: number;
  nextFh: number;
}

export function encodeNodeStore(s: NodeStoreState): MemoryVfsSnapshot {
  const nodes = [...s.nodes.values()].map((n) => ({
    ...n,
    data: n.data.subarray(0, n.size).toString("base64"),
    entries: n.entries ? [...n.entries] : undefined,
    xattrs: [...n.xattrs].map(([k, v]) => [k, v.toString("base64")] as [string, string]),
  }));
  return { nodes, handles: [...s.handles], nextIno: s.nextIno, nextFh: s.nextFh };
}

export function decodeNodeStore(s: MemoryVfsSnapshot): NodeStoreState {
  const nodes = new Map(
    s.nodes.map((n) => [
      n.ino,
      {
        ...n,
        data: Buffer.from(n.data, "base64"),
        entries: n.entries ? new Map(n.entries) : undefined,
        xattrs: new Map(n.xattrs.map(([k, v]) => [k, Buffer.from(v, "base64")])),
      },
    ]),
  );
  return { nodes, handles: new Map(s.handles), nextIno: s.nextIno, nextFh: s.nextFh };
}
