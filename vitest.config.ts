import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Tests import workspace packages from source; child processes (mounts, services) run the
// built dist/, which is why `npm test` builds first.
const alias = [
  { find: /^@filespaces\/engine$/, replacement: src("./engine/src/index.ts") },
  { find: /^@filespaces\/engine\/(.*)$/, replacement: src("./engine/src/$1/index.ts") },
  { find: /^@filespaces\/csi-driver$/, replacement: src("./csi-driver/src/index.ts") },
  { find: /^@filespaces\/operator$/, replacement: src("./operator/src/index.ts") },
  { find: /^@filespaces\/cli$/, replacement: src("./cli/src/index.ts") },
];

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: { name: "unit", include: ["*/test/**/*.test.ts"], testTimeout: 30_000 },
      },
      {
        resolve: { alias },
        test: {
          name: "integration",
          include: ["*/test/**/*.itest.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Real processes and mounts: keep the 2-core machine from thrashing.
          maxWorkers: 2,
          minWorkers: 1,
        },
      },
    ],
  },
});
