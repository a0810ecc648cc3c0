// A small cloud for compute tests: one rack of hosts in a group, a tenant with a quota there, a
// specification and an image, made through the public API; and an agent's part played in-process
// (complete or fail an operation as an agent's report would).
import { Architecture } from "../../gen/es/rackplane/v1/compute_pb.js";
import { PlacementPolicy } from "../../gen/es/rackplane/v1/inventory_pb.js";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { JobKind } from "../../src/domain/operations.js";
import { completeOperation, operationStarted, type Outcome } from "../../src/app/operations/completion.js";
import type { TestServer } from "./server.js";

export interface Cloud {
  readonly datacenterId: string;
  readonly groupId: string;
  readonly rackId: string;
  readonly hostIds: string[];
  readonly tenantId: string;
  readonly specificationId: string;
  readonly imageId: string;
}

export interface CloudOptions {
  readonly name: string;
  readonly hosts?: number;
  readonly host?: { cpuCores: number; memoryMib: bigint; storageGib: bigint };
  readonly policy?: PlacementPolicy;
  readonly cpuAllocationRatio?: number;
  /** vCPU quota of the tenant in the group (absolute). */
  readonly quotaCpu?: bigint;
  readonly spec?: { vcpu: number; memoryMib: bigint; storageGib: bigint };
}

export async function buildCloud(t: TestServer, options: CloudOptions): Promise<Cloud> {
  const { inventory, tenants } = t.clients();
  const compute = t.compute();
  const { region } = await inventory.createRegion({ region: { name: `${options.name}-r` } });
  const { datacenter } = await inventory.createDatacenter({ datacenter: { name: `${options.name}-dc`, regionId: region!.id } });
  const { room } = await inventory.createRoom({ room: { name: `${options.name}-room`, datacenterId: datacenter!.id } });
  const { rack } = await inventory.createRack({ rack: { name: `${options.name}-rack`, roomId: room!.id, heightUnits: 42 } });
  const { group } = await inventory.createBaremetalGroup({
    group: {
      name: `${options.name}-group`,
      scheduling: { placementPolicy: options.policy ?? PlacementPolicy.SPREAD, cpuAllocationRatio: options.cpuAllocationRatio ?? 1 },
    },
  });
  const count = options.hosts ?? 3;
  const host = options.host ?? { cpuCores: 16, memoryMib: 65536n, storageGib: 1000n };
  const { baremetals } = await inventory.batchCreateBaremetals({
    requests: Array.from({ length: count }, (_, i) => ({
      baremetal: {
        name: `${options.name}-h${i}`,
        serialNumber: `${options.name}-SN${i}`,
        capacity: host,
        groupId: group!.id,
        placement: { rackId: rack!.id, firstPosition: 1 + 2 * i, heightUnits: 2 },
      },
    })),
  });
  const tenantId = await t.tenant(options.name);
  await tenants.createBaremetalGroupTenantQuota({
    quota: {
      tenantId,
      groupId: group!.id,
      cpu: { kind: { case: "absolute", value: options.quotaCpu ?? 1000n } },
      memoryMib: { kind: { case: "percent", value: 100 } },
      storageGib: { kind: { case: "percent", value: 100 } },
    },
  });
  const spec = options.spec ?? { vcpu: 2, memoryMib: 4096n, storageGib: 20n };
  const { specification } = await compute.createVirtualMachineSpecification({ specification: { name: `${options.name}-spec`, ...spec } });
  const { image } = await compute.createImage({
    image: { name: `${options.name}-img`, osFamily: "ubuntu", osVersion: "24.04", architecture: Architecture.X86_64 },
  });
  return {
    datacenterId: datacenter!.id,
    groupId: group!.id,
    rackId: rack!.id,
    hostIds: baremetals.map((b) => b.id),
    tenantId,
    specificationId: specification!.id,
    imageId: image!.id,
  };
}

/** More tenants with a quota of `cpu` vCPU each (memory and storage: all of it) in the cloud's group. */
export async function tenantsWithQuota(t: TestServer, cloud: Cloud, prefix: string, count: number, cpu: bigint): Promise<string[]> {
  const { tenants } = t.clients();
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const tenantId = await t.tenant(`${prefix}-${i}`);
      await tenants.createBaremetalGroupTenantQuota({
        quota: {
          tenantId,
          groupId: cloud.groupId,
          cpu: { kind: { case: "absolute", value: cpu } },
          memoryMib: { kind: { case: "percent", value: 100 } },
          storageGib: { kind: { case: "percent", value: 100 } },
        },
      });
      return tenantId;
    }),
  );
}

/** Plays an agent taking the operation's job, as a claim does: the operation RUNNING (if it was
 * PENDING), and its resource told. */
export async function startOperation(em: EntityManager, operationId: string): Promise<void> {
  const [started] = await em.execute<{ id: string; kind: JobKind; resource_type: string; resource_id: string; previous_state: string }[]>(
    `update operation set state = 'RUNNING', update_time = now() where id = ? and state = 'PENDING'
     returning id, kind, resource_type, resource_id, previous_state`,
    [operationId],
  );
  if (started)
    await operationStarted(em, {
      id: started.id,
      kind: started.kind,
      resourceType: started.resource_type,
      resourceId: started.resource_id,
      previousState: started.previous_state,
    });
}

/** Plays the agent: takes the operation's job and reports the outcome. */
export async function finishOperation(
  t: TestServer,
  operationId: string,
  outcome: Outcome = { succeeded: true, facts: {} },
): Promise<void> {
  await t.server.db.em().transactional(async (em) => {
    await startOperation(em, operationId);
    await completeOperation(em, operationId, outcome);
  });
}

/** Every host's allocated counters equal the sum of its VMs' reservations, and every quota's used
 * counters those of its tenant's VMs in the group: the invariant no race may break. */
export async function reservationDrift(
  t: TestServer,
): Promise<{ hosts: unknown[]; quotas: unknown[]; overcommitted: unknown[]; overQuota: unknown[] }> {
  const em = t.server.db.em();
  const hosts = await em.execute(
    `select b.id, b.cpu_cores_allocated, coalesce(sum(vm.cpu_cores), 0) as reserved from baremetal b
       left join virtual_machine vm on vm.baremetal_id = b.id and vm.reserved
      group by b.id having b.cpu_cores_allocated <> coalesce(sum(vm.cpu_cores), 0)
         or b.memory_mib_allocated <> coalesce(sum(vm.memory_mib), 0) or b.storage_gib_allocated <> coalesce(sum(vm.storage_gib), 0)`,
  );
  const quotas = await em.execute(
    `select q.id, q.cpu_used, coalesce(sum(vm.cpu_cores), 0) as reserved from baremetal_group_tenant_quota q
       left join virtual_machine vm on vm.tenant_id = q.tenant_id and vm.group_id = q.group_id and vm.reserved
      group by q.id having q.cpu_used <> coalesce(sum(vm.cpu_cores), 0)
         or q.memory_mib_used <> coalesce(sum(vm.memory_mib), 0) or q.storage_gib_used <> coalesce(sum(vm.storage_gib), 0)`,
  );
  const overcommitted = await em.execute(
    "select id from baremetal where free_cpu_cores < 0 or free_memory_mib < 0 or free_storage_gib < 0",
  );
  const overQuota = await em.execute(
    "select id from baremetal_group_tenant_quota where cpu_absolute is not null and cpu_used > cpu_absolute",
  );
  return { hosts, quotas, overcommitted, overQuota };
}
