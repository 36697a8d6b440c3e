/**
 * Path work inside the mount process for warm and pin: resolve a path relative to the mount
 * point through the VFS (never through the kernel: a process must not do I/O on its own mount)
 * and walk a tree to the files below it.
 */
import type { FilespaceVfs } from "../vfs/filespace-vfs.js";
import { ROOT_INO, S_IFDIR, S_IFMT, S_IFREG } from "../vfs/types.js";

const ctx = { uid: 0, gid: 0, pid: 0 };

export interface TreeFile {
  ino: number;
  size: number;
}

export async function resolvePath(
  vfs: FilespaceVfs,
  rel: string,
): Promise<{ ino: number; mode: number; size: number }> {
  let ino = ROOT_INO;
  let attr = await vfs.getattr(ctx, ino);
  for (const part of rel.split("/").filter((p) => p && p !== ".")) {
    const e = await vfs.lookup(ctx, ino, part);
    ino = e.attr.ino;
    attr = e.attr;
  }
  return { ino, mode: attr.mode, size: attr.size };
}

/** Every regular file at or below `rel`. */
export async function filesUnder(vfs: FilespaceVfs, rel: string): Promise<TreeFile[]> {
  const top = await resolvePath(vfs, rel);
  const out: TreeFile[] = [];
  const walk = async (ino: number, mode: number, size: number) => {
    if ((mode & S_IFMT) === S_IFREG) out.push({ ino, size });
    if ((mode & S_IFMT) !== S_IFDIR) return;
    const { fh } = await vfs.opendir(ctx, ino);
    try {
      let cookie = 0;
      for (;;) {
        const page = await vfs.readdirplus(ctx, ino, fh, cookie, 1000);
        if (page.length === 0) break;
        for (const d of page) {
          if (d.name !== "." && d.name !== "..") await walk(d.entry.attr.ino, d.entry.attr.mode, d.entry.attr.size);
        }
        cookie = page[page.length - 1]!.cookie;
      }
    } finally {
      await vfs.releasedir(ctx, ino, fh);
    }
  };
  await walk(top.ino, top.mode, top.size);
  return out;
}
