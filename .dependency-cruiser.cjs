// The layer table of docs/architecture.md, checked by CI (`npm run lint:layers`). A rule names the
// layer and what it must not import; everything not forbidden is allowed.
const layer = (name) => `^src/${name}/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", comment: "Import circles hide which module owns what.", from: {}, to: { circular: true } },
    {
      name: "no-orphans",
      severity: "error",
      comment: "A module nothing imports is dead code (entry points and declarations excepted).",
      from: { orphan: true, pathNot: ["\\.d\\.ts$", "^src/main\\.ts$", "^src/agent/main\\.ts$", "^src/cli/main\\.ts$", "^src/persistence/migrations/", "(^|/)tests/", "^bench/", "^scripts/", "vitest\\.config\\.ts$", "^web/vite\\.config\\.ts$", "^web/src/main\\.tsx$", "\\.test\\.tsx?$", "^web/src/vite-env\\.d\\.ts$"] },
      to: {},
    },
    {
      name: "domain-is-pure",
      severity: "error",
      comment: "domain/ holds plain types and rules: nothing else of the project, no I/O libraries.",
      from: { path: layer("domain") },
      to: { path: ["^src/(?!domain/)", "^gen/", "@mikro-orm", "^pg$", "@connectrpc", "node_modules/pg/"] },
    },
    {
      name: "persistence-below-app",
      severity: "error",
      comment: "persistence/ may use domain/ only.",
      from: { path: layer("persistence") },
      to: { path: ["^src/(?!persistence/|domain/)", "^gen/"] },
    },
    {
      name: "app-speaks-no-proto",
      severity: "error",
      comment: "app/ use cases take and return domain types: no proto, no transport, no agents' dispatch.",
      from: { path: layer("app") },
      to: { path: ["^src/(api|server|agents|agent|agent-sdk)/", "^gen/", "@connectrpc"] },
    },
    {
      name: "app-framework-is-generic",
      severity: "error",
      comment: "The mechanisms every use case shares (mutation, lists, standard methods) know no feature.",
      from: { path: "^src/app/(mutation|list|standard-methods|context|database|tenant-guard)\\.ts$" },
      to: { path: "^src/app/[^/]+/" },
    },
    {
      name: "operations-know-no-kind",
      severity: "error",
      comment: "The operation engine is generic: each kind registers its lifecycle (app/lifecycles.ts), never the reverse.",
      from: { path: "^src/app/operations/" },
      to: { path: "^src/app/(?!operations/)[^/]+/" },
    },
    {
      name: "api-has-no-sql",
      severity: "error",
      comment: "api/ maps proto to use cases: no entities, no SQL, no server internals.",
      from: { path: layer("api") },
      to: { path: ["^src/(persistence|server)/", "@mikro-orm", "^pg$"] },
    },
    {
      name: "agents-dispatch",
      severity: "error",
      comment: "agents/ dispatches jobs to streams: app and persistence, never transport.",
      from: { path: layer("agents") },
      to: { path: ["^src/(api|server|agent|agent-sdk)/"] },
    },
    {
      name: "agent-is-a-client",
      severity: "error",
      comment: "The reference agent and its SDK are clients of the public contract: no server internals (the log format is shared).",
      from: { path: "^src/(agent|agent-sdk)/" },
      to: { path: ["^src/(?!agent/|agent-sdk/|log\\.ts$)"] },
    },
    {
      name: "cli-is-a-client",
      severity: "error",
      comment: "rackctl speaks to the server only through the generated clients: no server internals.",
      from: { path: "^src/cli/" },
      to: { path: ["^src/(?!cli/|log\\.ts$)"] },
    },
    {
      name: "web-is-a-client",
      severity: "error",
      comment: "The console speaks to the server only through the generated contract (gen/es): no server code.",
      from: { path: "^web/" },
      to: { path: ["^src/", "^gen/(?!es/)", "^tests/", "^scripts/"] },
    },
    {
      name: "server-serves-web-files-only",
      severity: "error",
      comment: "The server serves the console's built files; it never imports the console's sources.",
      from: { path: "^(src|tests|scripts|bench)/" },
      to: { path: "^web/src/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|dist|gen/ts)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "types"], extensions: [".ts", ".tsx", ".js"] },
  },
};
