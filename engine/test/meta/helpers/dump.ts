/** A canonical, order-independent dump of a namespace (for comparing states in tests). */
import type { Namespace } from "../../../src/meta/namespace/machine.js";
import type { Inode, Tree } from "../../../src/meta/namespace/types.js";

function dumpInode(n: Inode): unknown {
  return {
    ...n,
    entries: n.entries
      ? [...n.entries].map(([k, e]) => [Buffer.from(k, "utf16le").toString("hex"), e.ino, e.sealed]).sort()
      : undefined,
    xattrs: n.xattrs
      ? [...n.xattrs.values()].map((x) => [x.token.toString("hex"), x.value.toString("hex")]).sort()
      : undefined,
    target: n.target?.toString("hex"),
  };
}

export function dumpTree(t: Tree): unknown {
  return {
    version: t.version,
    inodes: [...t.inodes.keys()].sort((a, b) => a - b).map((i) => [i, dumpInode(t.inodes.get(i)!)]),
  };
}

export function dumpNamespace(ns: Namespace): unknown {
  return {
    live: dumpTree(ns.live),
    nextIno: ns.nextIno,
    sessions: [...ns.sessions].map(([id, s]) => [id, s.client, s.ttlMs, [...s.handles].sort()]).sort(),
    snapshots: [...ns.snapshots.values()].map((s) => [s.name, s.createdAt, s.schedule, dumpTree(s.tree)]).sort(),
  };
}

/**
 * Internal consistency of one tree: every directory's usage equals what its children
 * contribute (usage rule in namespace/types.ts), and every non-directory's link bookkeeping
 * (parent + extraParents) matches the entries that point at it. Returns the problems found.
 */
export function usageProblems(t: Tree): string[] {
  const problems: string[] = [];
  const want = new Map<number, [number, number]>();
  const linksTo = new Map<number, number[]>();
  for (const [ino, n] of t.inodes) {
    if (n.entries) for (const e of n.entries.values()) linksTo.set(e.ino, [...(linksTo.get(e.ino) ?? []), ino]);
    if (n.parent === 0) continue;
    const add = n.type === "dir" ? [n.usageBytes ?? 0, (n.usageFiles ?? 0) + 1] : [n.type === "file" ? n.size : 0, 1];
    const w = want.get(n.parent) ?? [0, 0];
    want.set(n.parent, [w[0] + add[0]!, w[1] + add[1]!]);
  }
  for (const [ino, n] of t.inodes) {
    if (n.type === "dir") {
      const [b, f] = want.get(ino) ?? [0, 0];
      if (b !== (n.usageBytes ?? 0) || f !== (n.usageFiles ?? 0))
        problems.push(`dir ${ino}: usage ${n.usageBytes}/${n.usageFiles}, children say ${b}/${f}`);
    } else {
      const have = [n.parent, ...(n.extraParents ?? [])].filter((p) => p !== 0).sort();
      const real = (linksTo.get(ino) ?? []).sort();
      if (JSON.stringify(have) !== JSON.stringify(real) || n.nlink !== real.length)
        problems.push(`inode ${ino}: links ${JSON.stringify(have)} nlink ${n.nlink}, entries ${JSON.stringify(real)}`);
    }
  }
  return problems;
}
