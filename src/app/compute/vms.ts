// Virtual machines (VM-3..6): creation decides everything in one transaction — tenant enabled,
// catalogue usable, name, quota, host, reservation, scheduling record, operation and job — and
// every lifecycle verb is a state-machine check plus an operation for an agent.
import type { EntityManager } from "@mikro-orm/postgresql";
import { requireTransition, type LifecycleVerb, type VirtualMachineRole, type VirtualMachineState } from "../../domain/compute.js";
import { FailedPreconditionError, NotFoundError, PermissionDeniedError } from "../../domain/errors.js";
import type { Resources } from "../../domain/hosts.js";
import { newId } from "../../domain/ids.js";
import { nameFor, renderTemplate, requireNameMatches } from "../../domain/naming.js";
import type { JobKind } from "../../domain/operations.js";
import { isTenantRole, requireRole, type Principal } from "../../domain/principal.js";
import { VirtualMachine as VirtualMachineEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { auditStatement, mutate } from "../mutation.js";
import { getOperation, startOperation, type Operation, type SameStatement } from "../operations/operations.js";
import { createOnce } from "../standard-methods.js";
import { requireTenantEnabled } from "../tenants/guard.js";
import { tenantDisabled } from "../../domain/tenant.js";
import { place } from "./placement.js";

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
  const id = await mutate(db, ctx, async (em) =>
    createOnce(em, ctx, "virtual_machine", requestId, request, async (id) => {
      const { tenant, specification, image } = await catalogue(em, request);
      const resources = { cpuCores: specification.vcpu, memoryMib: specification.memory_mib, storageGib: specification.storage_gib };
      const name = await vmName(em, tenant, request);
      const avoid = request.antiAffinity && (await avoidance(em, request.tenantId, request.antiAffinity));
      const decision = await place(em, { tenantId: request.tenantId, target: request.target, resources, avoid });
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
      // The quota count, the VM, its scheduling record, operation and job go in one statement.
      const records: SameStatement = {
        ctes: [
          `counted as (update baremetal_group_tenant_quota set cpu_used = cpu_used + ?, memory_mib_used = memory_mib_used + ?,
                 storage_gib_used = storage_gib_used + ? where id = ?)`,
          `new_vm as (insert into virtual_machine (id, version, create_time, update_time, name, tenant_id, specification_id, image_id, cpu_cores,
                 memory_mib, storage_gib, group_id, baremetal_id, cluster_id, role, state, state_change_time, reserved, active_operation_id)
                 values (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, true, ?))`,
          `new_record as (insert into scheduling_record (id, virtual_machine_id, tenant_id, group_id, cpu_cores, memory_mib, storage_gib,
                 candidates, baremetal_id, reason, policy, events, create_time) values (?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?::jsonb, ?))`,
        ],
        params: [
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
        ],
      };
      const operation = await startOperation(em, ctx, {
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
          image: { id: image.id, name: image.name, osFamily: image.os_family, osVersion: image.os_version, architecture: image.architecture },
          role: request.role,
          clusterId: request.clusterId,
        },
      }, withAudit(records, ctx));
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

/** Adds the call's success audit row to a creation's final statement. */
function withAudit(records: SameStatement, ctx: CallContext): SameStatement {
  const audit = auditStatement(ctx);
  return { ctes: [...records.ctes, audit.cte], params: [...records.params, ...audit.params] };
}

/** Tenant, specification and image in one statement; the tenant row is share-locked so a
 * DisableTenant cannot slip in before this creation commits (TEN-2). */
async function catalogue(em: EntityManager, request: CreateVirtualMachine) {
  const [row] = await em.execute<
    {
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
      status: string;
      os_family: string;
      os_version: string;
      architecture: string;
    }[]
  >(
    `select t.id as tenant_id, t.name as tenant_name, t.disabled, t.disabled_reason, t.naming_template, t.naming_pattern,
            s.id as specification_id, s.name as specification_name, s.vcpu, s.memory_mib, s.storage_gib, s.deprecated,
            i.id as image_id, i.name as image_name, i.status, i.os_family, i.os_version, i.architecture
       from tenant t
       left join virtual_machine_specification s on s.id = ?
       left join image i on i.id = ?
      where t.id = ?
        for share of t`,
    [request.specificationId, request.imageId, request.tenantId],
  );
  if (!row?.tenant_id) throw new NotFoundError("tenant", request.tenantId);
  if (row.disabled) throw tenantDisabled({ id: row.tenant_id, name: row.tenant_name, disabledReason: row.disabled_reason });
  if (!row.specification_id) throw new NotFoundError("virtual_machine_specification", request.specificationId);
  if (!row.image_id) throw new NotFoundError("image", request.imageId);
  if (row.deprecated) {
    throw new FailedPreconditionError("SPECIFICATION_DEPRECATED", `specification ${row.specification_name} is deprecated: choose another for new VMs`, {
      specification_id: row.specification_id,
    });
  }
  if (row.status === "DISABLED") throw new FailedPreconditionError("IMAGE_DISABLED", `image ${row.image_name} is disabled`, { image_id: row.image_id });
  return {
    tenant: { id: row.tenant_id, name: row.tenant_name, naming_template: row.naming_template, naming_pattern: row.naming_pattern },
    specification: { id: row.specification_id, vcpu: row.vcpu, memory_mib: row.memory_mib, storage_gib: row.storage_gib },
    image: { id: row.image_id, name: row.image_name, os_family: row.os_family, os_version: row.os_version, architecture: row.architecture },
  };
}

/** A given name must match the tenant's pattern; otherwise the template draws the next number of
 * its prefix with one upsert, so concurrent creates never share a number. */
async function vmName(em: EntityManager, tenant: { id: string; name: string; naming_template: string; naming_pattern: string }, request: CreateVirtualMachine): Promise<string> {
  if (request.name !== "") {
    requireNameMatches(request.name, tenant.naming_pattern);
    return request.name;
  }
  const rendered = renderTemplate(tenant.naming_template, { tenant: tenant.name, role: request.role === "" ? "vm" : request.role.toLowerCase().replace("_", "-") });
  const [row] = await em.execute<{ last_value: number }[]>(
    `insert into name_sequence (tenant_id, prefix, last_value) values (?, ?, 1)
     on conflict (tenant_id, prefix) do update set last_value = name_sequence.last_value + 1 returning last_value`,
    [tenant.id, `${rendered.prefix}{seq}${rendered.suffix}`],
  );
  return nameFor(rendered, row!.last_value);
}

/** The hosts or racks of the VMs to keep away from; they must be the tenant's own. */
async function avoidance(em: EntityManager, tenantId: string, antiAffinity: NonNullable<CreateVirtualMachine["antiAffinity"]>) {
  if (antiAffinity.virtualMachineIds.length === 0) return undefined;
  const rows = await em.execute<{ id: string; baremetal_id: string; rack_id: string }[]>(
    `select vm.id, vm.baremetal_id, b.rack_id from virtual_machine vm join baremetal b on b.id = vm.baremetal_id
      where vm.id = any(array[?]::uuid[]) and vm.tenant_id = ? and vm.state <> 'DELETED'`,
    [antiAffinity.virtualMachineIds, tenantId],
  );
  const found = new Set(rows.map((row) => row.id));
  const missing = antiAffinity.virtualMachineIds.find((id) => !found.has(id));
  if (missing) throw new NotFoundError("virtual_machine", missing);
  return { scope: antiAffinity.scope, ids: [...new Set(rows.map((row) => (antiAffinity.scope === "HOST" ? row.baremetal_id : row.rack_id)))] };
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
