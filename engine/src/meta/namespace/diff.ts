/**
 * Differences between two versions of a persistent inode map, in time proportional to the
 * changes rather than to the tree: versions share every untouched trie node, so the walk
 * skips any subtree whose node is the same object in both.
 *
 * This reads Immutable.js's internal trie (`_root`; nodes with `bitmap`+`nodes`, `count`+
 * `nodes`, `entries` or `entry`). Every level with a 32-slot shape is compared slot by slot
 * (the same slot covers the same hash bits in both); anything else is compared by collecting
 * its entries. If the internals ever look different, the whole map is compared entry by entry
 * (correct, just O(tree)). A test pins this against the brute-force comparison.
 */
import type { Inode, Inodes } from "./types.js";

type Entry = [number, Inode];
interface TrieNode {
  bitmap?: number;
  count?: number;
  nodes?: Array<TrieNode | undefined>;
  entries?: Entry[];
  entry?: Entry;
}

const SLOTS = 32;

function slots(node: TrieNode): Array<TrieNode | undefined> | undefined {
  if (!node.nodes) return undefined;
  if (node.count !== undefined) return node.nodes;
  if (node.bitmap === undefined) return undefined;
  const out: Array<TrieNode | undefined> = new Array(SLOTS);
  let k = 0;
  for (let bit = 0; bit < SLOTS; bit++) if (node.bitmap & (1 << bit)) out[bit] = node.nodes[k++];
  return out;
}

function collect(node: TrieNode | undefined, into: Map<number, Inode>): void {
  if (!node) return;
  if (node.entry) into.set(node.entry[0], node.entry[1]);
  else if (node.entries) for (const [k, v] of node.entries) into.set(k, v);
  else if (node.nodes) for (const child of node.nodes) collect(child, into);
  else throw new TypeError("unknown trie node");
}

function* bruteForce(older: Map<number, Inode>, newer: Map<number, Inode>): Generator<[number, Inode | null]> {
  for (const [ino, n] of older) if (newer.get(ino) !== n) yield [ino, n];
  for (const ino of newer.keys()) if (!older.has(ino)) yield [ino, null];
}

function* diffNodes(a: TrieNode | undefined, b: TrieNode | undefined): Generator<[number, Inode | null]> {
  if (a === b) return;
  const sa = a && slots(a);
  const sb = b && slots(b);
  if (sa && sb) {
    for (let i = 0; i < SLOTS; i++) yield* diffNodes(sa[i], sb[i]);
    return;
  }
  const ea = new Map<number, Inode>();
  const eb = new Map<number, Inode>();
  collect(a, ea);
  collect(b, eb);
  yield* bruteForce(ea, eb);
}

function rootOf(m: Inodes): TrieNode | undefined | null {
  if (!("_root" in m)) return null;
  return (m as unknown as { _root: TrieNode | undefined })._root;
}

/** Inodes of `older` that differ from `newer` (changed, or gone in newer), and those `older` lacks (null). */
export function* diffTrees(older: Inodes, newer: Inodes): Generator<[number, Inode | null]> {
  if (older === newer) return;
  const ra = rootOf(older);
  const rb = rootOf(newer);
  if (ra === null || rb === null) {
    yield* bruteForce(new Map(older), new Map(newer));
    return;
  }
  try {
    // Materialise first so a surprise in the internals falls back before anything is yielded.
    const out = [...diffNodes(ra, rb)];
    yield* out;
  } catch {
    yield* bruteForce(new Map(older), new Map(newer));
  }
}
