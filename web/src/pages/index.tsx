// The console's pages by path. Adding a page: one entry here and a link in app.tsx (docs/console.md).
import type { ReactNode } from "react";
import { match, useLocation } from "../router";
import { Audit } from "./audit";
import { HostDetail, Hosts } from "./hosts";
import { Inventory } from "./inventory";
import { ClusterDetail, Clusters } from "./kubernetes";
import { Maintained, Maintainers } from "./maintainers";
import { RackPage } from "./rack";
import { TenantDetail, Tenants } from "./tenants";
import { VmDetail, Vms } from "./vms";

const pages: readonly [string, (params: Record<string, string>, query: URLSearchParams) => ReactNode][] = [
  ["/", () => <Inventory />],
  ["/inventory", () => <Inventory />],
  ["/racks/:id", ({ id }) => <RackPage id={id!} />],
  ["/hosts", () => <Hosts />],
  ["/hosts/:id", ({ id }) => <HostDetail id={id!} />],
  ["/tenants", () => <Tenants />],
  ["/tenants/:id", ({ id }) => <TenantDetail id={id!} />],
  ["/vms", () => <Vms />],
  ["/vms/:id", ({ id }, query) => <VmDetail id={id!} operationId={query.get("operation") ?? ""} />],
  ["/kubernetes", () => <Clusters />],
  ["/kubernetes/:id", ({ id }, query) => <ClusterDetail id={id!} operationId={query.get("operation") ?? ""} />],
  ["/maintainers", () => <Maintainers />],
  ["/maintainers/people/:id", ({ id }) => <Maintained owner="maintainer" id={id!} />],
  ["/maintainers/groups/:id", ({ id }) => <Maintained owner="group" id={id!} />],
  ["/audit", () => <Audit />],
];

export function Pages() {
  const { path, query } = useLocation();
  for (const [pattern, render] of pages) {
    const params = match(pattern, path);
    if (params) return <>{render(params, query)}</>;
  }
  return <h1>Not found</h1>;
}
