// Every kind of resource with a lifecycle, registered with the operation engine
// (app/operations/lifecycle.ts). The server, the composition root, registers them once as it starts;
// a new kind (a cluster, a node pool, a plugin) is one more entry here.
import { vmLifecycle } from "./compute/vm-lifecycle.js";
import { pluginLifecycle } from "./kubernetes/addons/plugin-lifecycle.js";
import { clusterLifecycle } from "./kubernetes/cluster-lifecycle.js";
import { type Lifecycle, registerLifecycle } from "./operations/lifecycle.js";

export const lifecycles: readonly Lifecycle[] = [vmLifecycle, clusterLifecycle, pluginLifecycle];

export function registerLifecycles(): void {
  for (const lifecycle of lifecycles) registerLifecycle(lifecycle);
}
