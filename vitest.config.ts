import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    globalSetup: ["tests/support/global-setup.ts"],
    env: { RACKPLANE_LOG: process.env.RACKPLANE_LOG ?? "silent" },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Test files share one PostgreSQL but each gets its own database; two workers fit 2 cores.
    maxWorkers: 2,
  },
});
