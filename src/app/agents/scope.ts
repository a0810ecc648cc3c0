// Agents are confined (API-6): the database side of the rules in domain/agent-scope.ts. A token's
// scope names datacenters and groups that must exist when it is issued; a stream naming anything
// outside it is PERMISSION_DENIED; a report about a job or VM outside it is NOT_FOUND, exactly as
// for one that does not exist (as tenants are answered: an agent learns nothing of the fleet beyond
// its scope).
import type { EntityManager } from "@mikro-orm/postgresql";
import { placeInScope, jobInScope, scopeExcess, isWholeFleet, type Place, type StreamScope } from "../../domain/agent-scope.js";
import { NotFoundError, PermissionDeniedError } from "../../domain/errors.js";
import type { AgentTokenScope, Principal } from "../../domain/principal.js";

/** NOT_FOUND naming the first datacenter or host group of the scope that does not exist. Read FOR
 * SHARE, so one deleted at the same moment either goes first (and the token is refused) or waits. */
export async function requireScopeReferencesExist(em: EntityManager, scope: AgentTokenScope): Promise<void> {
  for (const [table, type, ids] of [
    ["datacenter", "datacenter", scope.datacenterIds],
    ["baremetal_group", "baremetal_group", scope.groupIds],
  ] as const) {
    if (ids.length === 0) continue;
    const rows = await em.execute<{ id: string }[]>(`select id from ${table} where id = any(array[?]::uuid[]) for share`, [[...ids]]);
    const found = new Set(rows.map((row) => row.id.toLowerCase()));
    const missing = ids.find((id) => !found.has(id.toLowerCase()));
    if (missing !== undefined) throw new NotFoundError(type, missing);
  }
}

/** Refuses a stream that names a job kind, host group or host outside its token's scope, naming
 * each one in the error's metadata (`job_kinds`, `group_ids`, `baremetal_ids`, comma-separated). */
export async function requireStreamWithinToken(em: EntityManager, principal: Principal, stream: StreamScope): Promise<void> {
  const scope = principal.agentScope;
  if (isWholeFleet(scope)) return;
  const hosts = new Map<string, Place>();
  if (stream.baremetalIds.length > 0) {
    const rows = await em.execute<{ id: string; group_id: string | null; datacenter_id: string }[]>(
      "select id, group_id, datacenter_id from baremetal where id = any(array[?]::uuid[])",
      [[...stream.baremetalIds]],
    );
    for (const row of rows) hosts.set(row.id.toLowerCase(), { groupId: row.group_id, datacenterId: row.datacenter_id });
  }
  const excess = scopeExcess(scope, stream, hosts);
  const fields = Object.keys(excess);
  if (fields.length === 0) return;
  throw new PermissionDeniedError(
    "AGENT_SCOPE_EXCEEDED",
    `the stream asks for more than token ${principal.tokenId} allows: ${fields.map((field) => `${field} ${excess[field]!.join(", ")}`).join("; ")}; a stream may only narrow its token's scope`,
    Object.fromEntries(fields.map((field) => [field, excess[field]!.join(",")])),
  );
}

/** NOT_FOUND unless a job of `kind` on this host and group lies inside the caller's scope. */
export async function requireJobInScope(
  em: EntityManager,
  principal: Principal,
  job: { id: string; kind: string; groupId?: string | null; baremetalId?: string | null },
): Promise<void> {
  const scope = principal.agentScope;
  if (isWholeFleet(scope)) return;
  const place = { groupId: job.groupId ?? null, datacenterId: await datacenterOf(em, job.baremetalId ?? null, scope) };
  if (!jobInScope(scope, job.kind, place)) throw new NotFoundError("job", job.id);
}

/** NOT_FOUND unless the resource's host and group lie inside the caller's scope (job kinds do not
 * apply: an observed state is not a job). */
export async function requirePlaceInScope(
  em: EntityManager,
  principal: Principal,
  resource: { readonly type: string; readonly id: string },
  where: { readonly groupId: string | null; readonly baremetalId: string | null },
): Promise<void> {
  const scope = principal.agentScope;
  if (isWholeFleet(scope)) return;
  const place = { groupId: where.groupId, datacenterId: await datacenterOf(em, where.baremetalId, scope) };
  if (!placeInScope(scope, place)) throw new NotFoundError(resource.type, resource.id);
}

/** The host's datacenter, read only when the scope restricts datacenters. */
async function datacenterOf(em: EntityManager, baremetalId: string | null, scope: AgentTokenScope | undefined): Promise<string | null> {
  if (baremetalId === null || !scope || scope.datacenterIds.length === 0) return null;
  const [row] = await em.execute<{ datacenter_id: string }[]>("select datacenter_id from baremetal where id = ?", [baremetalId]);
  return row?.datacenter_id ?? null;
}
