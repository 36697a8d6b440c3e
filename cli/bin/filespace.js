#!/usr/bin/env node
// Committed shim: npm links bins at install time, before dist/ exists (see ENVIRONMENT.md).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("filespace: not built yet — run `npm run build` in the repository first\n");
  process.exit(70);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
