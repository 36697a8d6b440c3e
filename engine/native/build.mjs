#!/usr/bin/env node
// Builds the libfuse3 N-API addon with the machine's own headers (no downloads). Where it
// cannot be built (no libfuse3-dev, no compiler) it says so and exits 0: the engine then falls
// back to fuse-native.
import { execFileSync, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const fallback = (why) => {
  console.warn(`filespace_fuse: not built (${why}); mounts will use the fuse-native fallback.`);
  process.exit(0);
};

try {
  execFileSync("pkg-config", ["--exists", "fuse3"], { stdio: "ignore" });
} catch {
  fallback("libfuse3 development files not found: apt-get install libfuse3-dev pkg-config");
}
let gyp;
try {
  gyp = createRequire(import.meta.url).resolve("node-gyp/bin/node-gyp.js");
} catch {
  fallback("node-gyp is not installed");
}
const nodedir = process.env.FILESPACE_NODEDIR ?? "/usr";
const res = spawnSync(process.execPath, [gyp, "rebuild", `--nodedir=${nodedir}`, "--loglevel=warn"], {
  cwd: here,
  stdio: "inherit",
});
if (res.status !== 0) fallback(`node-gyp failed with status ${res.status}`);
console.log(`filespace_fuse: built ${join(here, "build/Release/filespace_fuse.node")}`);
