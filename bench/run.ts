// `npm run bench`: figures and ratios, never pass/fail. Each benchmark file prints its own table.
const only = process.argv[2];
const suites: Record<string, () => Promise<unknown>> = {
  inventory: () => import("./inventory.js"),
  hosts: () => import("./hosts.js"),
  placement: () => import("./placement.js"),
  agents: () => import("./agents.js"),
  observations: () => import("./observations.js"),
  cli: () => import("./cli.js"),
  console: () => import("./console.js"),
  kubernetes: () => import("./kubernetes.js"),
  // Last: the first run generates its dataset (minutes), later runs reuse it.
  scale: () => import("./scale.js"),
};
for (const [name, load] of Object.entries(suites)) {
  if (only && only !== name) continue;
  console.log(`\n## ${name}`);
  await load();
}
