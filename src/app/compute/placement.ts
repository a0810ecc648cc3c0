// Placement (VM-3, VM-7, QUO-4). A creation costs two statements:
//
// 1. `readForPlacement` reads everything the decision needs and takes every lock it needs, in one
//    round trip: the tenant (share-locked, so a DisableTenant cannot slip in), the specification and
//    image, the host group with its policy and effective totals, the tenant's quota row in it
//    (FOR UPDATE: concurrent creates of one tenant in one group queue here), the hosts of VMs to keep
//    away from, and a handful of candidate hosts that fit (FOR UPDATE SKIP LOCKED: concurrent
//    placements spread over different hosts instead of queueing on the best one). It can also draw
//    the VM's name sequence (see vms.ts). When every fitting host is busy, the creation starts again
//    in a new transaction whose facts statement waits for them instead (`HostsBusy`).
// 2. `place` checks the quota and ranks the candidates by the group's policy (domain rules), and
//    `reserveHost` is the guarded UPDATE that takes the resources from the chosen host, which the
//    caller runs in the same statement as the VM, scheduling record, operation and job.
//
// Every guard is in the database: the quota row and the chosen host are locked until commit, and the
// UPDATE re-checks the host's status and free capacity, so no number of concurrent requests or
// server replicas can overcommit a host or pass a quota.
import { NotFoundError, ResourceExhaustedError } from "../../domain/errors.js";
import type { Resources } from "../../domain/hosts.js";
import { rank, type Candidate, type PlacementPolicy } from "../../domain/placement.js";
import { noQuotaInGroup, requireWithinQuota, type QuotaLimits } from "../../domain/quota.js";
import type { Sql, Statement } from "../../persistence/sql.js";
import { executePrepared, preparedCall, preparedStatement, type PreparedStatement } from "../../persistence/prepared.js";
import { limitsOf } from "../tenants/quotas.js";

export interface PlacementRequest {
  readonly tenantId: string;
  readonly specificationId: string;
  readonly imageId: string;
  /** A host group, or one host (then its group is the group). */
  readonly target: { readonly groupId: string } | { readonly baremetalId: string };
  /** VMs (the tenant's own) whose hosts (scope HOST) or racks (scope RACK) to stay away from. */
  readonly antiAffinity: { readonly scope: "HOST" | "RACK"; readonly virtualMachineIds: readonly string[] } | undefined;
}

/** A name sequence to draw in the same statement: its key, valid while the tenant's name and naming
 * template are still these (the statement draws nothing otherwise). */
export interface SequenceDraw {
  readonly key: string;
  readonly tenantName: string;
  readonly namingTemplate: string;
}

/** What `readForPlacement` found; `undefined` where a row does not exist. */
export interface PlacementFacts {
  readonly tenant:
    | {
        readonly id: string;
        readonly name: string;
        readonly disabled: boolean;
        readonly disabledReason: string;
        readonly namingTemplate: string;
        readonly namingPattern: string;
      }
    | undefined;
  readonly specification:
    | { readonly id: string; readonly name: string; readonly resources: Resources; readonly deprecated: boolean }
    | undefined;
  readonly image:
    | {
        readonly id: string;
        readonly name: string;
        readonly status: string;
        readonly osFamily: string;
        readonly osVersion: string;
        readonly architecture: string;
      }
    | undefined;
  /** The named host, when the request names one. */
  readonly targetHost: { readonly id: string; readonly groupId: string | null } | undefined;
  readonly group:
    | { readonly id: string; readonly name: string; readonly policy: PlacementPolicy; readonly effective: Resources }
    | undefined;
  readonly quota: { readonly id: string; readonly limits: QuotaLimits; readonly used: Resources } | undefined;
  /** The anti-affinity VMs found (of the tenant, not deleted) and the hosts or racks they occupy. */
  readonly avoid:
    | { readonly scope: "HOST" | "RACK"; readonly virtualMachineIds: readonly string[]; readonly ids: readonly string[] }
    | undefined;
  /** Fitting hosts nobody else is placing on, locked by this transaction. */
  readonly candidates: readonly Candidate[];
  /** Whether the candidates were waited for (locked in id order) rather than skipped when busy. */
  readonly waited: boolean;
  /** The number drawn for the SequenceDraw asked for, or undefined if none was drawn. */
  readonly sequence: number | undefined;
}

export interface PlacementDecision {
  readonly groupId: string;
  /** The quota row checked (and locked): the caller counts the request on it. */
  readonly quotaId: string;
  readonly baremetalId: string;
  readonly policy: PlacementPolicy;
  readonly candidates: ReadonlyArray<{ baremetalId: string; free: Resources; score: number }>;
  readonly reason: string;
}

/** How many hosts are looked at (and locked) per attempt. */
const candidatesPerAttempt = 8;

/** A candidate as the statements return it: a tuple in this order (see `candidateOf`). */
const candidateColumns =
  "id, rack_id, effective_cpu_cores, effective_memory_mib, effective_storage_gib, free_cpu_cores, free_memory_mib, free_storage_gib";

interface FactsRow {
  tenant_id: string | null;
  tenant_name: string;
  disabled: boolean;
  disabled_reason: string;
  naming_template: string;
  naming_pattern: string;
  specification_id: string | null;
  specification_name: string;
  vcpu: number;
  memory_mib: number;
  storage_gib: number;
  deprecated: boolean;
  image_id: string | null;
  image_name: string;
  image_status: string;
  os_family: string;
  os_version: string;
  architecture: string;
  target_host_id: string | null;
  target_host_group_id: string | null;
  group_id: string | null;
  group_name: string;
  placement_policy: PlacementPolicy;
  effective_cpu_total: number;
  effective_memory_mib_total: number;
  effective_storage_gib_total: number;
  quota_id: string | null;
  cpu_absolute: number | null;
  cpu_percent: number | null;
  memory_mib_absolute: number | null;
  memory_mib_percent: number | null;
  storage_gib_absolute: number | null;
  storage_gib_percent: number | null;
  cpu_used: number;
  memory_mib_used: number;
  storage_gib_used: number;
  avoided_vm_ids: string[] | null;
  avoided_ids: string[] | null;
  sequence: number | null;
  /** [id, rack_id, effective cpu, memory, storage, free cpu, memory, storage] per candidate. */
  candidates: CandidateTuple[] | null;
}

/** One shape of the facts statement. `wait`: the candidates are locked waiting, in id order, instead
 * of skipping hosts others hold (see `HostsBusy`). */
type Variant = { readonly byHost: boolean; readonly avoid: "HOST" | "RACK" | undefined; readonly draw: boolean; readonly wait: boolean };

/** The statement for one shape of request; its parameters are, in order: tenant, specification,
 * image, the group or host, tenant, with anti-affinity the VM ids and tenant, and with a sequence
 * draw the key, tenant name and naming template. */
function factsStatement({ byHost, avoid, draw, wait }: Variant): string {
  const ctes: string[] = [
    `t as (select id, name, disabled, disabled_reason, naming_template, naming_pattern from tenant where id = ? for share)`,
    `s as (select id, name, vcpu, memory_mib, storage_gib, deprecated from virtual_machine_specification where id = ?)`,
    `i as (select id, name, status, os_family, os_version, architecture from image where id = ?)`,
    byHost
      ? `th as (select id, group_id from baremetal where id = ?)`
      : `th as (select null::uuid as id, null::uuid as group_id where false)`,
    `g as (select id, name, placement_policy, effective_cpu_total, effective_memory_mib_total, effective_storage_gib_total
             from baremetal_group where id = ${byHost ? "(select group_id from th)" : "?"})`,
    `q as (select id, cpu_absolute, cpu_percent, memory_mib_absolute, memory_mib_percent, storage_gib_absolute, storage_gib_percent,
                  cpu_used, memory_mib_used, storage_gib_used
             from baremetal_group_tenant_quota where tenant_id = ? and group_id = (select id from g) for update)`,
    avoid
      ? `av as (select vm.id, ${avoid === "HOST" ? "vm.baremetal_id" : "b.rack_id"} as avoided from virtual_machine vm join baremetal b on b.id = vm.baremetal_id
                 where vm.id = any(?::uuid[]) and vm.tenant_id = ? and vm.state <> 'DELETED')`
      : `av as (select null::uuid as id, null::uuid as avoided where false)`,
    // Reading q first locks the quota row before the sequence row, the order a separate draw takes
    // them in too: concurrent creates of one tenant cannot deadlock on the two.
    draw
      ? `seq as (insert into name_sequence (tenant_id, prefix, last_value) select t.id, ?, 1 from q, t where t.name = ? and t.naming_template = ?
                  on conflict (tenant_id, prefix) do update set last_value = name_sequence.last_value + 1 returning last_value)`
      : `seq as (select null::bigint as last_value where false)`,
  ];
  // Candidates only when there is a quota row to check against; one query per policy, of which the
  // group's policy runs (the other's one-time filter is false), so each walks the index in order.
  const fits = `group_id = (select id from g) and status = 'ACTIVE' and exists (select 1 from q)
      and free_cpu_cores >= (select vcpu from s) and free_memory_mib >= (select memory_mib from s) and free_storage_gib >= (select storage_gib from s)
      ${byHost ? "and id = (select id from th)" : ""}
      ${avoid ? `and ${avoid === "HOST" ? "id" : "rack_id"} <> all(array(select avoided from av))` : ""}`;
  for (const [policy, order] of [
    ["SPREAD", "desc"],
    ["PACK", "asc"],
  ] as const) {
    const best = `${fits} and (select placement_policy from g) = '${policy}'`;
    ctes.push(
      wait
        ? // The best few as this statement sees them, locked in id order, each read again once locked
          // (one that no longer fits drops out; the caller ranks what is left): every creation that
          // waits for hosts takes them in the same order, holding no other host.
          `${policy.toLowerCase()} as (select ${candidateColumns} from baremetal
            where id in (select id from baremetal where ${best} order by free_cpu_cores ${order}, id ${order} limit ${candidatesPerAttempt})
              and ${best}
            order by id for update)`
        : `${policy.toLowerCase()} as (select ${candidateColumns} from baremetal
            where ${best} order by free_cpu_cores ${order}, id ${order} limit ${candidatesPerAttempt} for update skip locked)`,
    );
  }
  // One JSON column: the driver's per-column work for forty columns cost more than parsing this.
  return `with ${ctes.join(",\n")}
     select to_json(f) as facts from (
     select t.id as tenant_id, t.name as tenant_name, t.disabled, t.disabled_reason, t.naming_template, t.naming_pattern,
            s.id as specification_id, s.name as specification_name, s.vcpu, s.memory_mib, s.storage_gib, s.deprecated,
            i.id as image_id, i.name as image_name, i.status as image_status, i.os_family, i.os_version, i.architecture,
            th.id as target_host_id, th.group_id as target_host_group_id,
            g.id as group_id, g.name as group_name, g.placement_policy, g.effective_cpu_total, g.effective_memory_mib_total, g.effective_storage_gib_total,
            q.id as quota_id, q.cpu_absolute, q.cpu_percent, q.memory_mib_absolute, q.memory_mib_percent, q.storage_gib_absolute, q.storage_gib_percent,
            q.cpu_used, q.memory_mib_used, q.storage_gib_used,
            (select array_agg(id) from av) as avoided_vm_ids, (select array_agg(distinct avoided) from av) as avoided_ids,
            (select last_value from seq) as sequence,
            (select json_agg(json_build_array(${candidateColumns}))
               from (select * from spread union all select * from pack) c) as candidates
       from (select) as one
       left join t on true left join s on true left join i on true left join th on true left join g on true left join q on true) f`;
}

/** Every shape, prepared once per connection (when first used on it). */
const factsStatements = new Map(
  [false, true].flatMap((byHost) =>
    ([undefined, "HOST", "RACK"] as const).flatMap((avoid) =>
      [false, true].flatMap((draw) =>
        [false, true].map((wait) => [
          `${byHost}/${avoid}/${draw}/${wait}`,
          preparedStatement(
            `placement_facts_${byHost ? "host" : "group"}${avoid ? `_avoid_${avoid.toLowerCase()}` : ""}${draw ? "_draw" : ""}${wait ? "_wait" : ""}`,
            factsStatement({ byHost, avoid, draw, wait }),
          ),
        ]),
      ),
    ),
  ),
);

/** The one statement that reads and locks what a creation needs (see the top of this file), and
 * draws the VM's name sequence when the caller could tell its key. With `wait`, it waits for the
 * fitting hosts others hold (in id order) instead of skipping them: only in a transaction that
 * holds no host yet (see `HostsBusy`). */
export async function readForPlacement(sql: Sql, request: PlacementRequest, draw?: SequenceDraw, wait = false): Promise<PlacementFacts> {
  const { statement, params } = factsQuery(request, draw, wait);
  return factsOf(request, await executePrepared<FactsRows>(sql, statement, params), wait);
}

/** `readForPlacement`'s statement as an EXECUTE, for a caller that sends it with others (on a
 * session where it is prepared); `factsOf` reads its rows. */
export function placementFactsStatement(request: PlacementRequest, draw?: SequenceDraw): Statement {
  const { statement, params } = factsQuery(request, draw);
  return preparedCall(statement, params);
}

type FactsRows = { facts: FactsRow }[];

function avoidedOf(request: PlacementRequest): PlacementRequest["antiAffinity"] {
  return request.antiAffinity && request.antiAffinity.virtualMachineIds.length > 0 ? request.antiAffinity : undefined;
}

function factsQuery(
  request: PlacementRequest,
  draw: SequenceDraw | undefined,
  wait = false,
): { statement: PreparedStatement; params: unknown[] } {
  const byHost = "baremetalId" in request.target;
  const avoid = avoidedOf(request);
  const params: unknown[] = [
    request.tenantId,
    request.specificationId,
    request.imageId,
    "baremetalId" in request.target ? request.target.baremetalId : request.target.groupId,
    request.tenantId,
    ...(avoid ? [avoid.virtualMachineIds, request.tenantId] : []),
    ...(draw ? [draw.key, draw.tenantName, draw.namingTemplate] : []),
  ];
  return { statement: factsStatements.get(`${byHost}/${avoid?.scope}/${Boolean(draw)}/${wait}`)!, params };
}

/** The facts in the rows of `request`'s statement. */
export function factsOf(request: PlacementRequest, rows: readonly object[], waited = false): PlacementFacts {
  const row = (rows as FactsRows)[0]!.facts;
  const avoid = avoidedOf(request);
  return {
    tenant: row.tenant_id
      ? {
          id: row.tenant_id,
          name: row.tenant_name,
          disabled: row.disabled,
          disabledReason: row.disabled_reason,
          namingTemplate: row.naming_template,
          namingPattern: row.naming_pattern,
        }
      : undefined,
    specification: row.specification_id
      ? {
          id: row.specification_id,
          name: row.specification_name,
          resources: { cpuCores: row.vcpu, memoryMib: row.memory_mib, storageGib: row.storage_gib },
          deprecated: row.deprecated,
        }
      : undefined,
    image: row.image_id
      ? {
          id: row.image_id,
          name: row.image_name,
          status: row.image_status,
          osFamily: row.os_family,
          osVersion: row.os_version,
          architecture: row.architecture,
        }
      : undefined,
    targetHost: row.target_host_id ? { id: row.target_host_id, groupId: row.target_host_group_id } : undefined,
    group: row.group_id
      ? {
          id: row.group_id,
          name: row.group_name,
          policy: row.placement_policy,
          effective: {
            cpuCores: row.effective_cpu_total,
            memoryMib: row.effective_memory_mib_total,
            storageGib: row.effective_storage_gib_total,
          },
        }
      : undefined,
    quota: row.quota_id
      ? {
          id: row.quota_id,
          limits: limitsOf({
            cpuAbsolute: row.cpu_absolute,
            cpuPercent: row.cpu_percent,
            memoryMibAbsolute: row.memory_mib_absolute,
            memoryMibPercent: row.memory_mib_percent,
            storageGibAbsolute: row.storage_gib_absolute,
            storageGibPercent: row.storage_gib_percent,
          }),
          used: { cpuCores: row.cpu_used, memoryMib: row.memory_mib_used, storageGib: row.storage_gib_used },
        }
      : undefined,
    avoid: avoid ? { scope: avoid.scope, virtualMachineIds: row.avoided_vm_ids ?? [], ids: row.avoided_ids ?? [] } : undefined,
    candidates: (row.candidates ?? []).map(candidateOf),
    waited,
    sequence: row.sequence ?? undefined,
  };
}

type CandidateTuple = [string, string, number, number, number, number, number, number];

function candidateOf([
  id,
  rackId,
  effectiveCpu,
  effectiveMemory,
  effectiveStorage,
  freeCpu,
  freeMemory,
  freeStorage,
]: CandidateTuple): Candidate {
  return {
    baremetalId: id,
    rackId,
    effective: { cpuCores: effectiveCpu, memoryMib: effectiveMemory, storageGib: effectiveStorage },
    free: { cpuCores: freeCpu, memoryMib: freeMemory, storageGib: freeStorage },
  };
}

/**
 * Every fitting host was busy with another transaction when the facts were read (or none fits): the
 * creation must start again in a new transaction that waits for the hosts (`readForPlacement` with
 * `wait`). It cannot wait in this one: the facts statement may hold a host that it locked and then
 * dropped because a concurrent change made it no longer fit (PostgreSQL keeps the lock of a row that
 * fails its re-check), and waiting for hosts in id order while holding another, in any order, is the
 * deadlock docs/compute.md ("Lock order") rules out. Rolled back, the transaction holds nothing.
 */
export class HostsBusy extends Error {
  constructor() {
    super("every fitting host was busy: place again, waiting for them");
  }
}

/** Checks the quota and chooses a host among the locked candidates. With none, refuses once the
 * candidates were waited for, and otherwise throws `HostsBusy`. */
export async function place(sql: Sql, request: PlacementRequest, facts: PlacementFacts, asked: Resources): Promise<PlacementDecision> {
  const group = requireQuota(request, facts, asked);
  const decision = choose(group, request, facts.candidates, asked);
  if (decision) return decision;
  if (!facts.waited) throw new HostsBusy();
  throw await insufficientCapacity(sql, group, request, facts, asked);
}

/** The best of `candidates` (each of which fits) by the group's policy, or undefined if there are none. */
export function choose(
  group: CheckedGroup,
  request: PlacementRequest,
  candidates: readonly Candidate[],
  asked: Resources,
): PlacementDecision | undefined {
  const ranked = rank(group.policy, candidates, asked);
  const chosen = ranked[0];
  if (!chosen) return undefined;
  return {
    groupId: group.id,
    quotaId: group.quotaId,
    baremetalId: chosen.baremetalId,
    policy: group.policy,
    candidates: ranked.map((candidate) => ({ baremetalId: candidate.baremetalId, free: candidate.free, score: candidate.score })),
    reason:
      "baremetalId" in request.target
        ? "the host the request named"
        : `best ${group.policy === "SPREAD" ? "spread (most free capacity left)" : "pack (least free capacity left)"} of ${ranked.length} fitting host(s)`,
  };
}

export interface CheckedGroup {
  readonly id: string;
  readonly name: string;
  readonly policy: PlacementPolicy;
  readonly quotaId: string;
}

/** The group exists, the tenant has a quota in it, and the request fits the quota. */
export function requireQuota(request: PlacementRequest, facts: PlacementFacts, asked: Resources): CheckedGroup {
  const tenantId = request.tenantId;
  if ("baremetalId" in request.target) {
    const baremetalId = request.target.baremetalId;
    if (!facts.targetHost) throw new NotFoundError("baremetal", baremetalId);
    if (!facts.targetHost.groupId) {
      throw new ResourceExhaustedError("QUOTA_EXCEEDED", `host ${baremetalId} is in no host group, so no tenant has a quota on it`, {
        baremetal_id: baremetalId,
      });
    }
  }
  const groupId = "groupId" in request.target ? request.target.groupId : facts.targetHost!.groupId!;
  const { group, quota } = facts;
  if (!group) throw new NotFoundError("baremetal_group", groupId);
  if (!quota) throw noQuotaInGroup(tenantId, groupId, groupId);
  requireWithinQuota(
    { tenantId, groupId, groupName: group.name, limits: quota.limits, effective: group.effective, used: quota.used, asked },
    { lead: "quota exceeded for" },
  );
  return { id: group.id, name: group.name, policy: group.policy, quotaId: quota.id };
}

/**
 * The guarded UPDATE that takes the resources from the chosen host, as a common table expression
 * named `taken` for the creation's final statement, and `check`, the expression that fails that
 * statement (and rolls everything back) if it took nothing. The host is locked by this transaction
 * since `readForPlacement`, so the re-check fails only if an invariant broke.
 */
export const hostReservation = {
  check:
    "rackplane_require((select count(*) from taken) = 1, 'the chosen host changed while it was being reserved; nothing was created, retry') as taken",
  cte: `taken as (update baremetal set cpu_cores_allocated = cpu_cores_allocated + ?, memory_mib_allocated = memory_mib_allocated + ?,
            storage_gib_allocated = storage_gib_allocated + ?, update_time = now()
      where id = ? and status = 'ACTIVE' and free_cpu_cores >= ? and free_memory_mib >= ? and free_storage_gib >= ? returning id)`,
  params: (decision: PlacementDecision, resources: Resources): unknown[] => [
    resources.cpuCores,
    resources.memoryMib,
    resources.storageGib,
    decision.baremetalId,
    resources.cpuCores,
    resources.memoryMib,
    resources.storageGib,
  ],
};

/** Why nothing fits, summarised over the hosts considered. */
async function insufficientCapacity(
  sql: Sql,
  group: CheckedGroup,
  request: PlacementRequest,
  facts: PlacementFacts,
  asked: Resources,
): Promise<ResourceExhaustedError> {
  const { cpuCores, memoryMib, storageGib } = asked;
  const single = "baremetalId" in request.target;
  const avoid = facts.avoid && facts.avoid.ids.length > 0 ? facts.avoid : undefined;
  const avoided = avoid ? (avoid.scope === "HOST" ? "id = any(array[?]::uuid[])" : "rack_id = any(array[?]::uuid[])") : "false";
  const [counts] = await sql.execute<
    { considered: number; not_active: number; cpu: number; memory: number; storage: number; anti_affinity: number }[]
  >(
    `select count(*)::int as considered,
            count(*) filter (where status <> 'ACTIVE')::int as not_active,
            count(*) filter (where status = 'ACTIVE' and free_cpu_cores < ?)::int as cpu,
            count(*) filter (where status = 'ACTIVE' and free_memory_mib < ?)::int as memory,
            count(*) filter (where status = 'ACTIVE' and free_storage_gib < ?)::int as storage,
            count(*) filter (where ${avoided})::int as anti_affinity
       from baremetal where ${single ? "id = ?" : "group_id = ?"}`,
    [
      cpuCores,
      memoryMib,
      storageGib,
      ...(avoid ? [avoid.ids] : []),
      single ? (request.target as { baremetalId: string }).baremetalId : group.id,
    ],
  );
  const c = counts!;
  const reasons = [
    c.not_active && `${c.not_active} not ACTIVE`,
    c.cpu && `${c.cpu} short of CPU`,
    c.memory && `${c.memory} short of memory`,
    c.storage && `${c.storage} short of storage`,
    c.anti_affinity && `${c.anti_affinity} excluded by anti-affinity`,
  ].filter(Boolean);
  return new ResourceExhaustedError(
    "INSUFFICIENT_CAPACITY",
    `no host in group ${group.name} can take ${cpuCores} vCPU, ${memoryMib} MiB, ${storageGib} GiB: ${c.considered} host(s) considered${reasons.length ? `: ${reasons.join(", ")}` : ""}`,
    {
      group_id: group.id,
      hosts_considered: String(c.considered),
      not_active: String(c.not_active),
      short_of_cpu: String(c.cpu),
      short_of_memory: String(c.memory),
      short_of_storage: String(c.storage),
      anti_affinity: String(c.anti_affinity),
    },
  );
}
