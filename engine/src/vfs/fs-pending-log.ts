/**
 * The namespace queue's local journal, so a create this mount answered survives a crash or a
 * forced unmount like the data written into it: one line per queued create, another when it
 * landed; `fsync` of a file whose create is queued syncs this journal (durable here, sent later);
 * the next mount replays what never landed before the write-back log commits into those inodes.
 * The attribute changes queued right behind a create (tar's chmod and utimes) are journaled the
 * same way, with their request id and resolved times, and replayed after their create.
 *
 * Lines are sealed with the filespace keyring (they hold names): the cache directory stays as
 * zero-knowledge as the write-back log. The file is truncated whenever the queue runs empty.
 */
import { appendFileSync, closeSync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { SetattrRequest } from "../meta/api.js";

export interface LoggedCreate {
  vino: number;
  parent: number;
  name: string;
  /** The create's parameters (JSON-safe; Buffers as base64). */
  made: unknown;
}

/** A setattr queued behind a create: the service request, times already resolved (no "now"). */
export interface LoggedSetattr {
  vino: number;
  requestId: string;
  req: Omit<SetattrRequest, "requestId" | "size" | "atimeNow" | "mtimeNow">;
}

type Line =
  | { t: "c"; c: LoggedCreate }
  | { t: "l"; vino: number }
  | { t: "a"; a: LoggedSetattr }
  | { t: "al"; requestId: string };

export interface Unlanded {
  creates: LoggedCreate[];
  /** In the order they were queued (each after its inode's create). */
  setattrs: LoggedSetattr[];
}

export class NamespaceLog {
  private readonly fd: number;

  private constructor(
    private readonly path: string,
    private readonly seal: (b: Buffer) => Buffer,
  ) {
    this.fd = openSync(path, "a");
  }

  /** Opens the journal in `dir` and returns the creates that never landed, oldest first. */
  static open(
    dir: string,
    seal: (b: Buffer) => Buffer,
    open: (b: Buffer) => Buffer,
    log: (line: string) => void,
  ): { log: NamespaceLog; unlanded: Unlanded } {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, "queue.log");
    const unlanded = new Map<number, LoggedCreate>();
    const setattrs = new Map<string, LoggedSetattr>();
    let text = "";
    try {
      text = readFileSync(path, "utf8");
    } catch {
      // first start
    }
    for (const raw of text.split("\n")) {
      if (!raw) continue;
      let line: Line;
      try {
        line = JSON.parse(open(Buffer.from(raw, "base64")).toString("utf8"), revive) as Line;
      } catch {
        log("namespace journal: skipping a torn or foreign line (a crash mid-write)");
        continue;
      }
      if (line.t === "c") unlanded.set(line.c.vino, line.c);
      else if (line.t === "l") unlanded.delete(line.vino);
      else if (line.t === "a") setattrs.set(line.a.requestId, line.a);
      else setattrs.delete(line.requestId);
    }
    const nsLog = new NamespaceLog(path, seal);
    return { log: nsLog, unlanded: { creates: [...unlanded.values()], setattrs: [...setattrs.values()] } };
  }

  created(c: LoggedCreate): void {
    this.write({ t: "c", c });
  }

  landed(vino: number): void {
    this.write({ t: "l", vino });
  }

  setattr(a: LoggedSetattr): void {
    this.write({ t: "a", a });
  }

  setattrLanded(requestId: string): void {
    this.write({ t: "al", requestId });
  }

  /** Durable on local disk (fsync of a file whose create is queued). */
  sync(): void {
    fdatasyncSync(this.fd);
  }

  /** Nothing queued any more: start over. */
  reset(): void {
    ftruncateSync(this.fd, 0);
  }

  close(): void {
    closeSync(this.fd);
  }

  private write(line: Line): void {
    const sealed = this.seal(Buffer.from(JSON.stringify(line, replace)));
    appendFileSync(this.fd, `${sealed.toString("base64")}\n`);
  }

  toString(): string {
    return this.path;
  }
}

function replace(this: unknown, _key: string, value: unknown): unknown {
  if (value && typeof value === "object" && (value as { type?: string }).type === "Buffer") {
    return { $b64: Buffer.from((value as { data: number[] }).data).toString("base64") };
  }
  return value;
}

function revive(_key: string, value: unknown): unknown {
  if (value && typeof value === "object" && typeof (value as { $b64?: string }).$b64 === "string") {
    return Buffer.from((value as { $b64: string }).$b64, "base64");
  }
  return value;
}
