// Virtual machines (VM-3..6): creation decides everything in one transaction — tenant enabled,
// catalogue usable, name, quota, host, reservation, scheduling record, operation and job — and
// every lifecycle verb is a state-machine check plus an operation for an agent.
import type { EntityManager } from "@mikro-orm/postgresql";
import { requireTransition, type LifecycleVerb, type VirtualMachineRole, type VirtualMachineState } from "../../domain/compute.js";
import { FailedPreconditionError, NotFoundError, PermissionDeniedError } from "../../domain/errors.js";
import type { Resources } from "../../domain/hosts.js";
import { newId } from "../../domain/ids.js";
import { nameFor, renderTemplate, requireNameMatches, type RenderedTemplate } from "../../domain/naming.js";
import type { JobKind } from "../../domain/operations.js";
import { isTenantRole, requireRole, type Principal } from "../../domain/principal.js";
import { VirtualMachine as VirtualMachineEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { auditInsert, mutate, mutatePipelined } from "../mutation.js";
import { getOperation, operationStatement, startOperation, type Operation, type SameStatement } from "../operations/operations.js";
import type { Sql } from "../../persistence/pipelined-transaction.js";
import { preparedStatement } from "../../persistence/prepared.js";
import { createOnce } from "../standard-methods.js";
import { requireTenantEnabled } from "../tenants/guard.js";
import { tenantDisabled } from "../../domain/tenant.js";
import { hostReservation, place, readForPlacement, type PlacementFacts, type SequenceDraw } from "./placement.js";

export interface VirtualMachine {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly name: string;
  readonly tenantId: string;
  readonly specificationId: string;
  readonly imageId: string;
  readonly cpuCores: number;
  readonly memoryMib: number;
  readonly storageGib: number;
  readonly groupId: string;
  readonly baremetalId: string;
  readonly clusterId?: string | null;
  readonly role: VirtualMachineRole;
  readonly state: VirtualMachineState;
  readonly stateChangeTime: Date;
  readonly activeOperationId?: string | null;
  readonly hypervisorId: string;
  readonly ipAddresses: string[];
}

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

/** A creation's own writes, before the operation's and job's: the host's reservation, the quota
 * count, the VM, its scheduling record and the call's audit row; and the check that the host was taken. */
const creationCtes = [
  hostReservation.cte,
  `counted as (update baremetal_group_tenant_quota set cpu_used = cpu_used + ?, memory_mib_used = memory_mib_used + ?,
         storage_gib_used = storage_gib_used + ? where id = ?)`,
  `new_vm as (insert into virtual_machine (id, version, create_time, update_time, name, tenant_id, specification_id, image_id, cpu_cores,
         memory_mib, storage_gib, group_id, baremetal_id, cluster_id, role, state, state_change_time, reserved, active_operation_id)
         values (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, true, ?))`,
  `new_record as (insert into scheduling_record (id, virtual_machine_id, tenant_id, group_id, cpu_cores, memory_mib, storage_gib,
         candidates, baremetal_id, reason, policy, events, create_time) values (?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?::jsonb, ?))`,
  auditInsert.cte,
];
const creationStatement = preparedStatement("create_virtual_machine", operationStatement(creationCtes, hostReservation.check));

const users = ["PLATFORM_ADMIN", "SERVICE", "TENANT_ADMIN", "TENANT_MEMBER"] as const;

/** Tenant principals act only for their own tenant; another tenant's VM does not exist for them. */
function requireOwnTenant(principal: Principal, tenantId: string, resource: { type: string; id: string } | undefined): void {
  if (!isTenantRole(principal.role) || principal.tenantId === tenantId) return;
  if (resource) throw new NotFoundError(resource.type, resource.id);
  throw new PermissionDeniedError("TENANT_MISMATCH", `a principal of tenant ${principal.tenantId} may not act for tenant ${tenantId}`, { tenant_id: tenantId });
}

export async function createVirtualMachine(
  db: Database,
  ctx: CallContext,
  request: CreateVirtualMachine,
  requestId: string,
): Promise<{ virtualMachine: VirtualMachine; operation: Operation }> {
  requireRole(ctx.principal, users, "create virtual machines");
  requireOwnTenant(ctx.principal, request.tenantId, undefined);
  let created: { virtualMachine: VirtualMachine; operation: Operation } | undefined;
  const id = await mutatePipelined(db, ctx, async (tx) =>
    createOnce(tx, ctx, "virtual_machine", requestId, request, async (id) => {
      const draw = sequenceDraw(request);
      const facts = await readForPlacement(tx, request, draw);
      const { tenant, specification, image } = usableCatalogue(facts, request);
      const resources = specification.resources;
      const name = await vmName(tx, tenant, request, draw && facts.sequence !== undefined ? { key: draw.key, value: facts.sequence } : undefined);
      requireAvoidedFound(facts, request.antiAffinity);
      const decision = await place(tx, request, facts, resources);
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
      // The host's reservation, the quota count, the VM, its scheduling record, audit row, operation
      // and job go in one prepared statement.
      const records: SameStatement = {
        statement: creationStatement,
        params: [
          ...hostReservation.params(decision, resources),
          resources.cpuCores,
          resources.memoryMib,
          resources.storageGib,
          decision.quotaId,
          id,
          now,
          now,
          name,
          request.tenantId,
          specification.id,
          image.id,
          resources.cpuCores,
          resources.memoryMib,
          resources.storageGib,
          decision.groupId,
          decision.baremetalId,
          request.clusterId,
          request.role,
          now,
          operationId,
          newId(),
          id,
          request.tenantId,
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
          ...auditInsert.params(ctx),
        ],
      };
      tx.commitWithNext();
      const operation = await startOperation(tx, ctx, {
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
      }, records);
      ctx.audit.written = true;
      created = { virtualMachine, operation };
    }),
  );
  if (created) return created;
  // A retry (same request_id) answers the first creation as it is now.
  const em = db.em();
  const virtualMachine = await getVirtualMachine(db, ctx, id, em);
  const [operation] = await em.execute<{ id: string }[]>("select id from operation where resource_id = ? and kind = 'CREATE_VIRTUAL_MACHINE'", [id]);
  return { virtualMachine, operation: await getOperation(db, ctx, operation!.id) };
}

/** The tenant is enabled and the specification and image are usable for a new VM. */
function usableCatalogue(facts: PlacementFacts, request: CreateVirtualMachine) {
  const { tenant, specification, image } = facts;
  if (!tenant) throw new NotFoundError("tenant", request.tenantId);
  if (tenant.disabled) throw tenantDisabled({ id: tenant.id, name: tenant.name, disabledReason: tenant.disabledReason });
  if (!specification) throw new NotFoundError("virtual_machine_specification", request.specificationId);
  if (!image) throw new NotFoundError("image", request.imageId);
  if (specification.deprecated) {
    throw new FailedPreconditionError("SPECIFICATION_DEPRECATED", `specification ${specification.name} is deprecated: choose another for new VMs`, {
      specification_id: specification.id,
    });
  }
  if (image.status === "DISABLED") throw new FailedPreconditionError("IMAGE_DISABLED", `image ${image.name} is disabled`, { image_id: image.id });
  return { tenant, specification, image };
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
function renderName(tenantName: string, template: string, role: VirtualMachineRole): RenderedName {
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

function sequenceDraw(request: CreateVirtualMachine): SequenceDraw | undefined {
  const seen = request.name === "" ? namingSeen.get(request.tenantId) : undefined;
  if (!seen) return undefined;
  try {
    return { key: renderName(seen.name, seen.template, request.role).key, tenantName: seen.name, namingTemplate: seen.template };
  } catch {
    return undefined;
  }
}

/** A given name must match the tenant's pattern; otherwise the template's next number is the one
 * drawn with the tenant's read, or one drawn now with one upsert: concurrent creates never share one. */
async function vmName(
  sql: Sql,
  tenant: NonNullable<PlacementFacts["tenant"]>,
  request: CreateVirtualMachine,
  drawn: { key: string; value: number } | undefined,
): Promise<string> {
  if (request.name !== "") {
    requireNameMatches(request.name, tenant.namingPattern);
    return request.name;
  }
  const { rendered, key } = renderName(tenant.name, tenant.namingTemplate, request.role);
  rememberNaming(tenant);
  if (drawn && drawn.key === key) return nameFor(rendered, drawn.value);
  const [row] = await sql.execute<{ last_value: number }[]>(
    `insert into name_sequence (tenant_id, prefix, last_value) values (?, ?, 1)
     on conflict (tenant_id, prefix) do update set last_value = name_sequence.last_value + 1 returning last_value`,
    [tenant.id, key],
  );
  return nameFor(rendered, row!.last_value);
}

/** The VMs to keep away from must exist and be the tenant's own. */
function requireAvoidedFound(facts: PlacementFacts, antiAffinity: CreateVirtualMachine["antiAffinity"]): void {
  if (!antiAffinity || !facts.avoid) return;
  const found = new Set(facts.avoid.virtualMachineIds);
  const missing = antiAffinity.virtualMachineIds.find((id) => !found.has(id));
  if (missing) throw new NotFoundError("virtual_machine", missing);
}

export async function getVirtualMachine(db: Database, ctx: CallContext, id: string, em: EntityManager = db.em()): Promise<VirtualMachine> {
  requireRole(ctx.principal, users, "read virtual machines");
  const vm = (await em.createQueryBuilder(VirtualMachineEntity).select("*").where({ id }).execute("get", true)) as unknown as VirtualMachine | null;
  if (!vm) throw new NotFoundError("virtual_machine", id);
  requireOwnTenant(ctx.principal, vm.tenantId, { type: "virtual_machine", id });
  return vm;
}

const verbs: Record<LifecycleVerb, JobKind> = {
  START: "START_VIRTUAL_MACHINE",
  STOP: "STOP_VIRTUAL_MACHINE",
  REBOOT: "REBOOT_VIRTUAL_MACHINE",
  DELETE: "DELETE_VIRTUAL_MACHINE",
};

/** Start, stop, reboot or delete: the VM row is locked, the state machine consulted, and the
 * operation recorded as the VM's active one, so a second verb waits for this one to end. */
export async function operateVirtualMachine(db: Database, ctx: CallContext, id: string, verb: LifecycleVerb, options: Record<string, unknown>): Promise<Operation> {
  requireRole(ctx.principal, users, "operate virtual machines");
  const operationId = await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = "virtual_machine";
    ctx.audit.resourceId = id;
    const [vm] = await em.execute<{ id: string; tenant_id: string; state: VirtualMachineState; active_operation_id: string | null; group_id: string; baremetal_id: string; name: string }[]>(
      "select id, tenant_id, state, active_operation_id, group_id, baremetal_id, name from virtual_machine where id = ? for update",
      [id],
    );
    if (!vm || vm.state === "DELETED") throw new NotFoundError("virtual_machine", id);
    requireOwnTenant(ctx.principal, vm.tenant_id, { type: "virtual_machine", id });
    await requireTenantEnabled(em, vm.tenant_id);
    requireTransition({ id, state: vm.state, activeOperationId: vm.active_operation_id }, verb);
    const operationId = newId();
    const during: VirtualMachineState | undefined = { START: undefined, STOP: undefined, REBOOT: "REBOOTING", DELETE: "DELETING" }[verb] as VirtualMachineState | undefined;
    await em.execute(
      `update virtual_machine set active_operation_id = ?, state = coalesce(?, state), state_change_time = case when ?::text is null then state_change_time else now() end,
              version = version + 1, update_time = now() where id = ?`,
      [operationId, during ?? null, during ?? null, id],
    );
    await startOperation(em, ctx, {
      id: operationId,
      kind: verbs[verb],
      resourceType: "virtual_machine",
      resourceId: id,
      tenantId: vm.tenant_id,
      previousState: vm.state,
      groupId: vm.group_id,
      baremetalId: vm.baremetal_id,
      payload: { virtualMachineId: id, name: vm.name, ...options },
    });
    return operationId;
  });
  return getOperation(db, ctx, operationId);
}

export type { Resources };
