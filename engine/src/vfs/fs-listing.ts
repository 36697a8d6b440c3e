/**
 * Directory listings. A listing is one readdirplus request per 5,000 entries (a 10,000-entry
 * directory in two round trips), and what it brought lives `listingTtlS`: longer than the
 * attribute TTL, because the `lstat` of each of 10,000 entries that `ls -l` makes right after
 * the listing must not find them expired. While it lives, lookups in that directory — positive
 * and negative — are answered from it (fs-dirs.ts). A directory known completely here (listed
 * moments ago, or made by this mount and filled since) is listed without asking; otherwise the
 * creates this mount queued in it land first, so the service lists them. `.snapshots/` lists
 * the filespace's snapshots.
 */
import { fsError } from "./errors.js";
import { fsCall } from "./fs-errors.js";
import { SNAPSHOTS_INO } from "./fs-inodes.js";
import { FilespaceVfsReads } from "./fs-reads.js";
import type { DirEntry, Entry } from "./types.js";

/** Entries per readdirplus request: a 10,000-entry directory in two round trips. */
const READDIR_PAGE = 5000;

export abstract class FilespaceVfsListing extends FilespaceVfsReads {
  opendir(_ctx: unknown, ino: number): Promise<{ fh: number }> {
    return fsCall(async () => {
      if (ino !== SNAPSHOTS_INO && (await this.metaAttr(ino)).type !== "dir") throw fsError("ENOTDIR");
      return { fh: this.newFh({ kind: "dir", vino: ino }) };
    });
  }

  readdirplus(_ctx: unknown, ino: number, fh: number, cookie: number, limit: number): Promise<DirEntry[]> {
    return fsCall(async () => {
      const h = this.handles.get(fh);
      if (h?.kind !== "dir") throw fsError("EBADF", `no open directory handle ${fh}`);
      if (!h.entries || cookie === 0) h.entries = await this.listDir(ino);
      return h.entries.slice(cookie, cookie + limit);
    });
  }

  /** The whole directory, "." and ".." first, names opened; cookies are positions. */
  private async listDir(vino: number): Promise<DirEntry[]> {
    const out: DirEntry[] = [];
    const push = (name: string, entry: Entry) => out.push({ name, cookie: out.length + 1, entry });
    if (vino === SNAPSHOTS_INO) {
      const self = { attr: this.snapshotsAttr, entryTimeout: this.ttl, attrTimeout: this.ttl };
      push(".", self);
      push("..", self);
      const { snapshots } = await this.session.call((ctx) => this.api.listSnapshots(ctx));
      for (const s of snapshots.sort((a, b) => a.name.localeCompare(b.name))) {
        try {
          push(s.name, await this.lookupSnapshot(s.name));
        } catch {
          // deleted meanwhile
        }
      }
      return out;
    }
    const loc = this.locate(vino);
    const local = this.localListing(vino);
    if (local) {
      for (const [name, entry] of local) push(name, entry);
      return out;
    }
    // Creates this mount queued in the directory land first, so the service lists them.
    await this.pending.settle([vino]);
    await this.pending.settleChildren(vino);
    // The LOOKUP or GETATTR the kernel made just before (`ls` stats the directory first) will do.
    const dir = this.attrs.fresh(vino) ?? (await this.metaAttr(vino, true));
    const scope = dir.nameScope ?? dir.ino;
    const self = this.entry(dir, vino);
    push(".", self);
    push("..", self);
    const names = new Map<string, number>();
    let cookie: string | undefined;
    do {
      const page = await this.session.call((ctx) =>
        this.api.readdirplus(ctx, {
          ino: loc.ino,
          limit: READDIR_PAGE,
          ...(cookie ? { cookie } : {}),
          ...this.readOpt(loc),
        }),
      );
      for (const e of page.entries) {
        let name: string;
        try {
          name = this.names.open(scope, e.name.sealed);
        } catch (err) {
          this.log(`skipping an entry of inode ${vino} whose name does not open: ${(err as Error).message}`);
          continue;
        }
        const child = this.inodes.toKernel(e.attr.ino, loc.snapshot);
        this.remember(child, vino, name);
        names.set(name, child);
        push(name, this.entry(e.attr, child, this.listingTtl));
      }
      cookie = page.cookie;
    } while (cookie);
    this.dirs.listed(vino, names);
    return out;
  }

  /**
   * The listing of a directory known completely here (listed moments ago, or made by this mount
   * and filled since), "." and ".." first; undefined when any attribute is missing.
   */
  private localListing(vino: number): Array<[string, Entry]> | undefined {
    const names = this.dirs.entries(vino);
    const self = this.attrs.any(vino);
    if (!names || !self) return undefined;
    const selfEntry = { attr: this.kattr(self, vino), entryTimeout: this.ttl, attrTimeout: this.ttl, generation: 0 };
    const out: Array<[string, Entry]> = [
      [".", selfEntry],
      ["..", selfEntry],
    ];
    for (const [name, child] of names) {
      const a = this.attrs.any(child);
      if (!a) return undefined;
      const left = Math.max(this.ttl, this.attrs.remainingS(child, this.listingTtl));
      out.push([name, { attr: this.kattr(a, child), entryTimeout: left, attrTimeout: left, generation: 0 }]);
    }
    return out;
  }

  releasedir(_ctx: unknown, _ino: number, fh: number): Promise<void> {
    this.handles.delete(fh);
    return Promise.resolve();
  }
}
