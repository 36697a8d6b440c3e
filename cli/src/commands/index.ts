/**
 * Every top-level command of `filespace`. Adding one is one line: import its factory and
 * append it to the list. Factories return a fresh commander `Command` each call.
 */
import type { Command } from "commander";
import { cacheCommand } from "./cache.js";
import { compactCommand } from "./compact.js";
import { fsckCommand } from "./fsck.js";
import { gcCommand } from "./gc.js";
import { infoCommand } from "./info.js";
import { initCommand } from "./init.js";
import { keyCommand } from "./key.js";
import { metaCommand } from "./meta.js";
import { mountCommand } from "./mount.js";
import { pinCommand, unpinCommand } from "./pin.js";
import { snapshotCommand } from "./snapshot.js";
import { statsCommand } from "./stats.js";
import { unmountCommand } from "./unmount.js";
import { warmCommand } from "./warm.js";

export const commandFactories: ReadonlyArray<() => Command> = [
  initCommand,
  infoCommand,
  keyCommand,
  metaCommand,
  snapshotCommand,
  mountCommand,
  unmountCommand,
  statsCommand,
  pinCommand,
  unpinCommand,
  warmCommand,
  cacheCommand,
  fsckCommand,
  gcCommand,
  compactCommand,
];
