/**
 * Where a mount's control socket lives, computed from the mount point alone so every command
 * can find it: `/run/filespaces/<hash>.sock` when /run is writable (root), else
 * `$TMPDIR/filespaces-<uid>/<hash>.sock`. The hash is of the absolute mount point path.
 */
import { createHash } from "node:crypto";
import { accessSync, constants, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

function hashOf(mountpoint: string): string {
  return createHash("sha256").update(resolve(mountpoint)).digest("hex").slice(0, 24);
}

/** Candidate directories, most preferred first. */
export function socketDirs(): string[] {
  const uid = process.getuid?.() ?? 0;
  return ["/run/filespaces", join(tmpdir(), `filespaces-${uid}`)];
}

/** All places a client should look for the socket of `mountpoint`. */
export function socketCandidates(mountpoint: string): string[] {
  return socketDirs().map((d) => join(d, `${hashOf(mountpoint)}.sock`));
}

/** The path a mount process listens on (creates the directory). */
export function socketPathFor(mountpoint: string): string {
  for (const dir of socketDirs()) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      accessSync(dir, constants.W_OK);
      return join(dir, `${hashOf(mountpoint)}.sock`);
    } catch {
      // next candidate
    }
  }
  throw new Error("no writable directory for the control socket");
}
