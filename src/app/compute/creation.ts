// Creating a virtual machine (VM-3, VM-6, VM-7): one transaction decides everything — tenant
// enabled, catalogue usable, name, quota, host, reservation, scheduling record, operation and job.
// `createAlone` runs one creation in a transaction of its own; creation-batch.ts runs several in one
// (group commit) with the same statements and the same rules, which live here.
import { FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import type { VirtualMachine, VirtualMachineRole } from "../../domain/compute.js";
import type { Resources } from "../../domain/hosts.js";
import { newId } from "../../domain/ids.js";
import { nameFor, renderTemplate, requireNameMatches, type RenderedTemplate } from "../../domain/naming.js";
import { tenantDisabled } from "../../domain/tenant.js";
import type { Statement, Sql } from "../../persistence/sql.js";
import { preparedCall, preparedStatement } from "../../persistence/prepared.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { auditInsert, mutatePipelined } from "../mutation.js";
import { getOperation, operationRecords, operationStatement, type Operation } from "../operations/operations.js";
import { createOnce } from "../standard-methods.js";
import {
  HostsBusy,
  hostReservation,
  place,
  readForPlacement,
  type PlacementDecision,
  type PlacementFacts,
  type SequenceDraw,
} from "./placement.js";
import { getVirtualMachine } from "./vm-queries.js";

export interface CreateVirtualMachine {
  readonly tenantId: string;
  readonly target: { readonly groupId: string } | { readonly baremetalId: string };
  readonly specificationId: string;
  readonly imageId: string;
  readonly clusterId: string | null;
  readonly role: VirtualMachineRole;
  readonly name: string;
  readonly antiAffinity: { readonly scope: "HOST" | "RACK"; readonly virtualMachineIds: readonly string[] } | undefined;
}

export interface Created {
  readonly virtualMachine: VirtualMachine;
  readonly operation: Operation;
}

/** The tenant's usage in the group counts the new VM. */
const quotaCount = {
  cte: `counted as (update baremetal_group_tenant_quota set cpu_used = cpu_used + ?, memory_mib_used = memory_mib_used + ?,
         storage_gib_used = storage_gib_used + ? where id = ?)`,
  params: (decision: PlacementDecision, resources: Resources): unknown[] => [
    resources.cpuCores,
    resources.memoryMib,
    resources.storageGib,
    decision.quotaId,
  ],
};

/** The VM's row, reserved and PENDING under its creation's operation. */
const newVm = {
  cte: `new_vm as (insert into virtual_machine (id, version, create_time, update_time, name, tenant_id, specification_id, image_id, cpu_cores,
         memory_mib, storage_gib, group_id, baremetal_id, cluster_id, role, state, state_change_time, reserved, active_operation_id)
         values (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, true, ?))`,
  params: (vm: VirtualMachine): unknown[] => [
    vm.id,
    vm.createTime,
    vm.updateTime,
    vm.name,
    vm.tenantId,
    vm.specificationId,
    vm.imageId,
    vm.cpuCores,
    vm.memoryMib,
    vm.storageGib,
    vm.groupId,
    vm.baremetalId,
    vm.clusterId,
    vm.role,
    vm.stateChangeTime,
    vm.activeOperationId,
  ],
};

/** The placement's record: what was asked, the candidates, the host chosen and why. */
const schedulingRecord = {
  cte: `new_record as (insert into scheduling_record (id, virtual_machine_id, tenant_id, group_id, cpu_cores, memory_mib, storage_gib,
         candidates, baremetal_id, reason, policy, events, create_time) values (?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?::jsonb, ?))`,
  params: (vm: VirtualMachine, decision: PlacementDecision, resources: Resources, now: Date): unknown[] => [
    newId(),
    vm.id,
    vm.tenantId,
    decision.groupId,
    resources.cpuCores,
    resources.memoryMib,
    resources.storageGib,
    JSON.stringify(decision.candidates),
    decision.baremetalId,
    decision.reason,
    decision.policy,
    JSON.stringify([{ kind: "RESERVED", resources, reason: "placed", time: now.toISOString() }]),
    now,
  ],
};

/** A creation's own writes, before the operation's and job's: the host's reservation, the quota
 * count, the VM, its scheduling record and the call's audit row; and the check that the host was taken.
 * Each part's parameters are declared beside its text, in the same order. */
const creationCtes = [hostReservation.cte, quotaCount.cte, newVm.cte, schedulingRecord.cte, auditInsert.cte];
const creationStatement = preparedStatement("create_virtual_machine", operationStatement(creationCtes, hostReservation.check));

/** One creation in a transaction of its own; with a request id, at most once per id (AIP-155). When
 * every fitting host was busy, once more in a new transaction that waits for them (`HostsBusy`). */
export async function createAlone(db: Database, ctx: CallContext, request: CreateVirtualMachine, requestId: string): Promise<Created> {
  try {
    return await createInTransaction(db, ctx, request, requestId, false);
  } catch (error) {
    if (!(error instanceof HostsBusy)) throw error;
    return createInTransaction(db, ctx, request, requestId, true);
  }
}

async function createInTransaction(
  db: Database,
  ctx: CallContext,
  request: CreateVirtualMachine,
  requestId: string,
  waitForHosts: boolean,
): Promise<Created> {
  let created: Created | undefined;
  const id = await mutatePipelined(db, ctx, async (tx) =>
    createOnce(tx, ctx, "virtual_machine", requestId, request, async (id) => {
      const draw = sequenceDraw(request);
      const facts = await readForPlacement(tx, request, draw, waitForHosts);
      const catalogue = usableCatalogue(facts, request);
      const name = drawnName(catalogue.tenant, request, draw, facts) ?? (await nameWithOwnDraw(tx, catalogue.tenant, request));
      requireAvoidedFound(facts, request.antiAffinity);
      const decision = await place(tx, request, facts, catalogue.specification.resources);
      const creation = creationRecords(ctx, request, id, name, catalogue, decision);
      tx.commitWithNext();
      await tx.executeAll([creation.statement]);
      ctx.audit.written = true;
      created = creation.created;
    }),
  );
  if (created) return created;
  // A retry (same request_id) answers the first creation as it is now.
  const em = db.em();
  const virtualMachine = await getVirtualMachine(db, ctx, id, em);
  const [operation] = await em.execute<{ id: string }[]>(
    "select id from operation where resource_id = ? and kind = 'CREATE_VIRTUAL_MACHINE'",
    [id],
  );
  return { virtualMachine, operation: await getOperation(db, ctx, operation!.id) };
}

type Catalogue = ReturnType<typeof usableCatalogue>;

/** The tenant is enabled and the specification and image are usable for a new VM. */
export function usableCatalogue(facts: PlacementFacts, request: CreateVirtualMachine) {
  const { tenant, specification, image } = facts;
  if (!tenant) throw new NotFoundError("tenant", request.tenantId);
  if (tenant.disabled) throw tenantDisabled({ id: tenant.id, name: tenant.name, disabledReason: tenant.disabledReason });
  if (!specification) throw new NotFoundError("virtual_machine_specification", request.specificationId);
  if (!image) throw new NotFoundError("image", request.imageId);
  if (specification.deprecated) {
    throw new FailedPreconditionError(
      "SPECIFICATION_DEPRECATED",
      `specification ${specification.name} is deprecated: choose another for new VMs`,
      {
        specification_id: specification.id,
      },
    );
  }
  if (image.status === "DISABLED")
    throw new FailedPreconditionError("IMAGE_DISABLED", `image ${image.name} is disabled`, { image_id: image.id });
  return { tenant, specification, image };
}

/** The VMs to keep away from must exist and be the tenant's own. */
export function requireAvoidedFound(facts: PlacementFacts, antiAffinity: CreateVirtualMachine["antiAffinity"]): void {
  if (!antiAffinity || !facts.avoid) return;
  const found = new Set(facts.avoid.virtualMachineIds);
  const missing = antiAffinity.virtualMachineIds.find((id) => !found.has(id));
  if (missing) throw new NotFoundError("virtual_machine", missing);
}

/**
 * The creation's final statement — the host's reservation, the quota count, the VM, its scheduling
 * record, audit row, operation and job, in one prepared statement — and what the call answers once
 * it has committed.
 */
export function creationRecords(
  ctx: CallContext,
  request: CreateVirtualMachine,
  id: string,
  name: string,
  { specification, image }: Pick<Catalogue, "specification" | "image">,
  decision: PlacementDecision,
): { statement: Statement; created: Created } {
  const resources = specification.resources;
  const now = new Date();
  const operationId = newId();
  const virtualMachine: VirtualMachine = {
    id,
    version: 1,
    createTime: now,
    updateTime: now,
    name,
    tenantId: request.tenantId,
    specificationId: specification.id,
    imageId: image.id,
    ...resources,
    groupId: decision.groupId,
    baremetalId: decision.baremetalId,
    clusterId: request.clusterId,
    role: request.role,
    state: "PENDING",
    stateChangeTime: now,
    activeOperationId: operationId,
    hypervisorId: "",
    ipAddresses: [],
  };
  const ownParams = [
    ...hostReservation.params(decision, resources),
    ...quotaCount.params(decision, resources),
    ...newVm.params(virtualMachine),
    ...schedulingRecord.params(virtualMachine, decision, resources, now),
    ...auditInsert.params(ctx),
  ];
  const { operation, params } = operationRecords(
    ctx,
    {
      id: operationId,
      kind: "CREATE_VIRTUAL_MACHINE",
      resourceType: "virtual_machine",
      resourceId: id,
      tenantId: request.tenantId,
      previousState: "PENDING",
      groupId: decision.groupId,
      baremetalId: decision.baremetalId,
      payload: {
        virtualMachineId: id,
        name,
        tenantId: request.tenantId,
        resources,
        image: { id: image.id, name: image.name, osFamily: image.osFamily, osVersion: image.osVersion, architecture: image.architecture },
        role: request.role,
        clusterId: request.clusterId,
      },
    },
    { statement: creationStatement, params: ownParams },
  );
  return { statement: preparedCall(creationStatement, params), created: { virtualMachine, operation } };
}

/**
 * The naming facts last seen per tenant (name and template; bounded, oldest out first), so that the
 * next creation can draw its number in the statement that reads the tenant: `readForPlacement`
 * draws only if the tenant still has that name and template, so a stale entry costs one separate
 * draw, never a wrong number.
 */
const namingSeen = new Map<string, { readonly name: string; readonly template: string }>();
const namingSeenLimit = 10_000;

function rememberNaming(tenant: { id: string; name: string; namingTemplate: string }): void {
  remember(namingSeen, tenant.id, { name: tenant.name, template: tenant.namingTemplate });
}

/** Sets `key` as the newest entry of `map`, dropping the oldest beyond namingSeenLimit. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > namingSeenLimit) map.delete(map.keys().next().value!);
}

/** The template rendered for a request, and the name sequence's key: one sequence per rendered
 * prefix and suffix, so templates that render alike share their numbers. Kept per template, tenant
 * name and role (bounded like namingSeen): a creation needs it twice, and rendering a template (its
 * regular expressions) cost more than a look-up. A template that does not render is not kept. */
export function renderName(tenantName: string, template: string, role: VirtualMachineRole): RenderedName {
  const cacheKey = `${template}\u0000${tenantName}\u0000${role}`;
  let found = renderedNames.get(cacheKey);
  if (!found) {
    const rendered = renderTemplate(template, { tenant: tenantName, role: role === "" ? "vm" : role.toLowerCase().replace("_", "-") });
    found = { rendered, key: `${rendered.prefix}{seq}${rendered.suffix}` };
    remember(renderedNames, cacheKey, found);
  }
  return found;
}

interface RenderedName {
  readonly rendered: RenderedTemplate;
  readonly key: string;
}
const renderedNames = new Map<string, RenderedName>();

/** The name sequence to draw with the tenant's read, when the tenant's naming was seen before. */
export function sequenceDraw(request: CreateVirtualMachine): SequenceDraw | undefined {
  const seen = request.name === "" ? namingSeen.get(request.tenantId) : undefined;
  if (!seen) return undefined;
  try {
    return { key: renderName(seen.name, seen.template, request.role).key, tenantName: seen.name, namingTemplate: seen.template };
  } catch {
    return undefined;
  }
}

/**
 * The VM's name without a statement of its own: a given name, which must match the tenant's
 * pattern, or the template's number drawn with the tenant's read. Undefined when the number has yet
 * to be drawn (`nameWithOwnDraw`): the tenant's naming was not known, or changed since.
 */
export function drawnName(
  tenant: Catalogue["tenant"],
  request: CreateVirtualMachine,
  draw: SequenceDraw | undefined,
  facts: PlacementFacts,
): string | undefined {
  if (request.name !== "") {
    requireNameMatches(request.name, tenant.namingPattern);
    return request.name;
  }
  const { rendered, key } = renderName(tenant.name, tenant.namingTemplate, request.role);
  rememberNaming(tenant);
  return draw && facts.sequence !== undefined && draw.key === key ? nameFor(rendered, facts.sequence) : undefined;
}

/** The template's next number, drawn now with one upsert: concurrent creates never share one. */
export async function nameWithOwnDraw(sql: Sql, tenant: Catalogue["tenant"], request: CreateVirtualMachine): Promise<string> {
  const { rendered, key } = renderName(tenant.name, tenant.namingTemplate, request.role);
  const { sql: text, params } = drawNumber(tenant.id, key);
  const [row] = await sql.execute<{ last_value: number }[]>(text, params);
  return nameFor(rendered, row!.last_value);
}

/** Draws the next number of a name sequence (one upsert; its row stays locked until the
 * transaction ends); its one row has `last_value`. */
export function drawNumber(tenantId: string, key: string): Statement {
  return {
    sql: `insert into name_sequence (tenant_id, prefix, last_value) values (?, ?, 1)
     on conflict (tenant_id, prefix) do update set last_value = name_sequence.last_value + 1 returning last_value`,
    params: [tenantId, key],
  };
}

/**
 * The draw a creation still needs once its facts are read: the tenant's naming was not known to
 * this server when the facts statement was written (so it drew nothing), and the facts now show it.
 * Undefined when no number is needed (a given name), the tenant is missing or disabled (the
 * creation is refused anyway), or the template does not render (the creation alone says why).
 */
export function drawStillNeeded(tenant: PlacementFacts["tenant"], request: CreateVirtualMachine): SequenceDraw | undefined {
  if (request.name !== "" || !tenant || tenant.disabled) return undefined;
  try {
    const { key } = renderName(tenant.name, tenant.namingTemplate, request.role);
    return { key, tenantName: tenant.name, namingTemplate: tenant.namingTemplate };
  } catch {
    return undefined;
  }
}
