/**
 * A deliberately simple reference model of a POSIX tree (no persistence, no tokens, no
 * usage bookkeeping) that the property tests run random operation sequences against.
 * Each method returns the errno name the real service must answer, or "OK".
 */
export type MNode =
  | { kind: "dir"; entries: Map<string, number>; parent: number }
  | { kind: "file"; nlink: number; size: number };

export class PosixModel {
  readonly nodes = new Map<number, MNode>([[1, { kind: "dir", entries: new Map(), parent: 0 }]]);

  clone(): PosixModel {
    const copy = new PosixModel();
    copy.nodes.clear();
    for (const [ino, n] of this.nodes)
      copy.nodes.set(ino, n.kind === "dir" ? { kind: "dir", entries: new Map(n.entries), parent: n.parent } : { ...n });
    return copy;
  }

  dirs(): number[] {
    return [...this.nodes]
      .filter(([, n]) => n.kind === "dir")
      .map(([i]) => i)
      .sort((a, b) => a - b);
  }

  files(): number[] {
    return [...this.nodes]
      .filter(([, n]) => n.kind === "file")
      .map(([i]) => i)
      .sort((a, b) => a - b);
  }

  dir(ino: number): Extract<MNode, { kind: "dir" }> {
    return this.nodes.get(ino) as Extract<MNode, { kind: "dir" }>;
  }

  canMake(parent: number, name: string): string {
    return this.dir(parent).entries.has(name) ? "EEXIST" : "OK";
  }

  make(parent: number, name: string, ino: number, kind: "dir" | "file"): void {
    this.dir(parent).entries.set(name, ino);
    this.nodes.set(ino, kind === "dir" ? { kind, entries: new Map(), parent } : { kind, nlink: 1, size: 0 });
  }

  unlink(parent: number, name: string, dir: boolean): string {
    const ino = this.dir(parent).entries.get(name);
    if (ino === undefined) return "ENOENT";
    const n = this.nodes.get(ino)!;
    if (dir) {
      if (n.kind !== "dir") return "ENOTDIR";
      if (n.entries.size > 0) return "ENOTEMPTY";
    } else if (n.kind === "dir") return "EISDIR";
    this.dir(parent).entries.delete(name);
    this.#drop(ino);
    return "OK";
  }

  #drop(ino: number): void {
    const n = this.nodes.get(ino)!;
    if (n.kind === "dir" || --n.nlink === 0) this.nodes.delete(ino);
  }

  #isAncestor(a: number, d: number): boolean {
    for (let x = d; x !== 0; x = this.dir(x).parent) if (x === a) return true;
    return false;
  }

  rename(p: number, name: string, q: number, newName: string): string {
    const src = this.dir(p).entries.get(name);
    if (src === undefined) return "ENOENT";
    const s = this.nodes.get(src)!;
    if (s.kind === "dir" && this.#isAncestor(src, q)) return "EINVAL";
    const dst = this.dir(q).entries.get(newName);
    if (dst === src) return "OK";
    if (dst !== undefined) {
      const t = this.nodes.get(dst)!;
      if (s.kind === "dir") {
        if (t.kind !== "dir") return "ENOTDIR";
        if (t.entries.size > 0) return "ENOTEMPTY";
      } else if (t.kind === "dir") return "EISDIR";
      this.dir(q).entries.delete(newName);
      this.#drop(dst);
    }
    this.dir(p).entries.delete(name);
    this.dir(q).entries.set(newName, src);
    if (s.kind === "dir") s.parent = q;
    return "OK";
  }

  link(ino: number, q: number, newName: string): string {
    const n = this.nodes.get(ino);
    if (!n) return "ENOENT";
    if (n.kind === "dir") return "EPERM";
    if (this.dir(q).entries.has(newName)) return "EEXIST";
    this.dir(q).entries.set(newName, ino);
    n.nlink++;
    return "OK";
  }

  resize(ino: number, size: number): string {
    const n = this.nodes.get(ino);
    if (!n) return "ENOENT";
    if (n.kind === "dir") return "EISDIR";
    n.size = size;
    return "OK";
  }

  /** Usage of the whole tree: distinct inodes below the root and their bytes. */
  usage(): { bytes: number; files: number } {
    let bytes = 0;
    for (const n of this.nodes.values()) if (n.kind === "file") bytes += n.size;
    return { bytes, files: this.nodes.size - 1 };
  }
}
