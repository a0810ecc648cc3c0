import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// `npm test` runs everything but the fault tests; `npm run test:faults` runs only those (long
// stress under two replicas, PostgreSQL stopped and started): on two cores they would starve the
// suite's lease-timed tests of CPU. The console's component tests are a project of their own in a
// simulated DOM (happy-dom); its browser tests run in the server project against real servers.
const faults = process.env.RACKPLANE_TESTS === "faults";
// `npm run test:ha` runs only the failover test (tests/ha), which needs Patroni, etcd and HAProxy.
const ha = process.env.RACKPLANE_TESTS === "ha";

export default defineConfig({
  test: {
    // Test files share one PostgreSQL but each gets its own database; two workers fit 2 cores.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: "server",
          include: faults ? ["tests/faults/**/*.test.ts"] : ha ? ["tests/ha/**/*.test.ts"] : ["tests/**/*.test.ts"],
          exclude: faults || ha ? ["**/node_modules/**"] : ["**/node_modules/**", "tests/faults/**", "tests/ha/**"],
          globalSetup: ["tests/support/global-setup.ts"],
          env: { RACKPLANE_LOG: process.env.RACKPLANE_LOG ?? "silent" },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      ...(faults || ha
        ? []
        : [
            {
              plugins: [react()],
              test: {
                name: "web",
                include: ["web/**/*.test.tsx", "web/**/*.test.ts"],
                environment: "happy-dom",
              },
            },
          ]),
    ],
  },
});
