// The agent registry: who is connected where, for ListAgents and for an operator's eye.
import { parseFilter } from "../../domain/filter.js";
import { decodePageToken, effectivePageSize, encodePageToken } from "../../domain/page-token.js";
import { requireRole } from "../../domain/principal.js";
import { Agent as AgentEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import type { ListRequest, Page } from "../list.js";
import { mutate } from "../mutation.js";
import type { AgentScope } from "./leases.js";
import { requireStreamWithinToken } from "./scope.js";

export interface AgentDeclaration {
  readonly agentId: string;
  readonly scope: AgentScope;
  readonly maxConcurrentJobs: number;
  readonly description: string;
}

export interface AgentView extends AgentDeclaration {
  readonly principal: string;
  readonly connected: boolean;
  readonly replica: string;
  readonly jobsInFlight: number;
  readonly connectTime: Date;
  readonly lastSeenTime: Date;
}

/** How long a stream may go unseen before its agent counts as disconnected (its replica died). */
export const staleAfterMillis = 30_000;

/** Records that the agent opened a stream on this replica (audited as the agent's connection); a
 * scope naming anything outside its token's is refused first. */
export async function connectAgent(db: Database, ctx: CallContext, declaration: AgentDeclaration, replica: string): Promise<void> {
  requireRole(ctx.principal, ["AGENT"], "take jobs");
  await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = "agent";
    ctx.audit.resourceId = "";
    ctx.audit.detail = `${declaration.agentId} connected to ${replica}`;
    await requireStreamWithinToken(em, ctx.principal, declaration.scope);
    await em.upsert(AgentEntity, {
      id: declaration.agentId,
      principal: ctx.principal.name,
      jobKinds: [...declaration.scope.jobKinds],
      groupIds: [...declaration.scope.groupIds],
      baremetalIds: [...declaration.scope.baremetalIds],
      maxConcurrentJobs: declaration.maxConcurrentJobs,
      description: declaration.description,
      connected: true,
      replica,
      connectTime: new Date(),
      lastSeenTime: new Date(),
    });
  });
}

/** Refreshes last-seen for the agents whose streams this replica holds. */
export async function touchAgents(db: Database, agentIds: readonly string[]): Promise<void> {
  if (agentIds.length === 0) return;
  await db.em().execute("update agent set last_seen_time = now() where id = any(array[?]::text[])", [agentIds]);
}

export async function disconnectAgent(db: Database, agentId: string, replica: string): Promise<void> {
  await db.em().execute("update agent set connected = false, last_seen_time = now() where id = ? and replica = ?", [agentId, replica]);
}

/** An agent's id as agents declare it (agent.proto); the key of ListAgents' pages. */
const agentIdKeyPart = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Agents by id. ListAgents has no filter: a request's filter must be empty (INVALID_FILTER otherwise). */
export async function listAgents(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<AgentView>> {
  requireRole(ctx.principal, ["PLATFORM_ADMIN", "SERVICE"], "list agents");
  parseFilter(request.filter, {});
  const pageSize = effectivePageSize(request.pageSize);
  const binding = { list: "agent", orderBy: "id asc", filter: request.filter, scope: "" };
  const after = decodePageToken(request.pageToken, binding, [agentIdKeyPart])?.[0] ?? "";
  const rows = await db.em().execute<
    {
      id: string;
      principal: string;
      job_kinds: string[];
      group_ids: string[];
      baremetal_ids: string[];
      max_concurrent_jobs: number;
      description: string;
      connected: boolean;
      replica: string;
      connect_time: Date;
      last_seen_time: Date;
      jobs_in_flight: number;
    }[]
  >(
    `select a.*, (select count(*)::int from job j where j.state = 'LEASED' and j.agent_id = a.id) as jobs_in_flight
       from agent a where a.id > ? order by a.id limit ?`,
    [after, pageSize + 1],
  );
  const now = Date.now();
  const items = rows.slice(0, pageSize).map(
    (row): AgentView => ({
      agentId: row.id,
      principal: row.principal,
      scope: { jobKinds: row.job_kinds, groupIds: row.group_ids, baremetalIds: row.baremetal_ids },
      maxConcurrentJobs: row.max_concurrent_jobs,
      description: row.description,
      connected: row.connected && now - new Date(row.last_seen_time).getTime() < staleAfterMillis,
      replica: row.replica,
      jobsInFlight: row.jobs_in_flight,
      connectTime: new Date(row.connect_time),
      lastSeenTime: new Date(row.last_seen_time),
    }),
  );
  const last = items.at(-1);
  return { items, nextPageToken: rows.length > pageSize && last ? encodePageToken(binding, [last.agentId]) : "" };
}
