// Virtual machines end to end: placement under quota and capacity, every refusal reason, the
// lifecycle state machine with operations, cancellation, naming rules, anti-affinity, and the
// no-overcommit invariant under concurrent creates.
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { AntiAffinityScope, VirtualMachineRole, VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { MaintainerRole, MaintainerService } from "../../gen/es/rackplane/v1/maintainer_pb.js";
import { OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import { buildCloud, finishOperation, reservationDrift, startOperation, type Cloud } from "../support/compute.js";
import { failure } from "../support/failure.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;
let cloud: Cloud;
beforeAll(async () => {
  t = await startTestServer();
  cloud = await buildCloud(t, { name: "vm", hosts: 3, quotaCpu: 40n });
});
afterAll(() => t.close());

const create = (extra: Record<string, unknown> = {}, c: Cloud = cloud) =>
  t.compute().createVirtualMachine({
    tenantId: c.tenantId,
    target: { case: "groupId", value: c.groupId },
    specificationId: c.specificationId,
    imageId: c.imageId,
    ...extra,
  });

describe("creating a VM", () => {
  it("places it, reserves its resources, records the decision and queues the job, in one step", async () => {
    const { virtualMachine, operation } = await create({ role: VirtualMachineRole.WORKER });
    expect(virtualMachine?.state).toBe(VirtualMachineState.PENDING);
    expect(virtualMachine?.name).toMatch(/^vm-vm-\d{4}$/);
    expect(cloud.hostIds).toContain(virtualMachine!.baremetalId);
    expect(operation).toMatchObject({ state: OperationState.PENDING, kind: "CREATE_VIRTUAL_MACHINE", resourceId: virtualMachine!.id });
    const [job] = await t.server.db.em().execute("select state, kind, baremetal_id from job where operation_id = ?", [operation!.id]);
    expect(job).toMatchObject({ state: "QUEUED", kind: "CREATE_VIRTUAL_MACHINE", baremetal_id: virtualMachine!.baremetalId });
    const { schedulingRecords } = await t.compute().listSchedulingRecords({ filter: `virtual_machine_id = "${virtualMachine!.id}"` });
    expect(schedulingRecords[0]?.chosenBaremetalId).toBe(virtualMachine!.baremetalId);
    expect(schedulingRecords[0]?.candidates.length).toBeGreaterThan(0);
    expect(schedulingRecords[0]?.events.map((e) => e.kind)).toEqual(["RESERVED"]);
    const host = (await t.clients().inventory.getBaremetal({ id: virtualMachine!.baremetalId })).baremetal!;
    expect(host.allocated?.cpuCores).toBe(2);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    // Exactly one audit event, written in the creation's own statement.
    const audit = await t.server.db
      .em()
      .execute("select result, resource_type from audit_event where resource_id = ? and method like '%/CreateVirtualMachine'", [
        virtualMachine!.id,
      ]);
    expect(audit).toEqual([{ result: "OK", resource_type: "virtual_machine" }]);
  });

  it("refuses a tenant without quota in the group, a quota overrun and a group without room, each with its reason", async () => {
    const other = await t.tenant("noquota");
    expect(await failure(create({ tenantId: other }))).toMatchObject({ reason: "QUOTA_EXCEEDED" });
    const big = await buildCloud(t, { name: "tight", hosts: 1, quotaCpu: 4n, spec: { vcpu: 4, memoryMib: 1024n, storageGib: 10n } });
    await create({}, big);
    const overrun = await failure(create({}, big));
    expect(overrun).toMatchObject({ reason: "QUOTA_EXCEEDED", metadata: { resource: "cpu", limit: "4", used: "4", asked: "4" } });
    const full = await buildCloud(t, {
      name: "full",
      hosts: 2,
      quotaCpu: 1000n,
      host: { cpuCores: 4, memoryMib: 8192n, storageGib: 100n },
      spec: { vcpu: 4, memoryMib: 1024n, storageGib: 10n },
    });
    await create({}, full);
    await create({}, full);
    const none = await failure(create({}, full));
    expect(none).toMatchObject({ reason: "INSUFFICIENT_CAPACITY", metadata: { hosts_considered: "2", short_of_cpu: "2" } });
    expect(none.message).toContain("2 short of CPU");
  });

  it("refuses a deprecated specification and a disabled tenant", async () => {
    const compute = t.compute();
    const { specification } = await compute.createVirtualMachineSpecification({
      specification: { name: "old", vcpu: 1, memoryMib: 512n, storageGib: 5n, deprecated: true },
    });
    expect(await failure(create({ specificationId: specification!.id }))).toMatchObject({ reason: "SPECIFICATION_DEPRECATED" });
    const c = await buildCloud(t, { name: "dis", hosts: 1 });
    const { virtualMachine, operation } = await create({}, c);
    await finishOperation(t, operation!.id);
    await t.clients().tenants.disableTenant({ id: c.tenantId, reason: "unpaid" });
    expect(await failure(create({}, c))).toMatchObject({ reason: "TENANT_DISABLED" });
    expect(await failure(t.compute().stopVirtualMachine({ id: virtualMachine!.id }))).toMatchObject({ reason: "TENANT_DISABLED" });
    await t.clients().tenants.enableTenant({ id: c.tenantId });
    await t.compute().stopVirtualMachine({ id: virtualMachine!.id });
  });

  it("keeps VMs apart with anti-affinity and explains when it cannot", async () => {
    const c = await buildCloud(t, { name: "aa", hosts: 2 });
    const first = (await create({}, c)).virtualMachine!;
    const second = (await create({ antiAffinity: { virtualMachineIds: [first.id], scope: AntiAffinityScope.HOST } }, c)).virtualMachine!;
    expect(second.baremetalId).not.toBe(first.baremetalId);
    const third = await failure(create({ antiAffinity: { virtualMachineIds: [first.id, second.id], scope: AntiAffinityScope.HOST } }, c));
    expect(third).toMatchObject({ reason: "INSUFFICIENT_CAPACITY", metadata: { anti_affinity: "2" } });
    expect(await failure(create({ antiAffinity: { virtualMachineIds: [first.id], scope: AntiAffinityScope.RACK } }, c))).toMatchObject({
      reason: "INSUFFICIENT_CAPACITY",
    });
  });

  it("names VMs by the tenant's rule with numbers that never repeat, and checks given names against its pattern", async () => {
    const c = await buildCloud(t, { name: "nm", hosts: 3 });
    await t.clients().tenants.updateTenant({
      tenant: { id: c.tenantId, namingRule: { template: "{tenant}-{role}-{seq:03}", pattern: "nm-[a-z]+-\\d+" } },
      updateMask: { paths: ["naming_rule"] },
    });
    const names = await Promise.all(
      Array.from({ length: 6 }, () => create({ role: VirtualMachineRole.CONTROL_PLANE }, c).then((r) => r.virtualMachine!.name)),
    );
    expect(new Set(names).size).toBe(6);
    expect([...names].sort()).toEqual([
      "nm-control-plane-001",
      "nm-control-plane-002",
      "nm-control-plane-003",
      "nm-control-plane-004",
      "nm-control-plane-005",
      "nm-control-plane-006",
    ]);
    expect((await create({ name: "nm-db-1" }, c)).virtualMachine?.name).toBe("nm-db-1");
    expect(await failure(create({ name: "other-1" }, c))).toMatchObject({ reason: "NAME_DOES_NOT_MATCH_RULE" });
    expect(await failure(create({ name: "nm-db-1" }, c))).toMatchObject({ reason: "ALREADY_EXISTS" });
  });

  it("answers a retried request_id with the first creation, at once or concurrently, and refuses it for another request", async () => {
    const c = await buildCloud(t, { name: "rq", hosts: 2 });
    const requestId = `retry-${Date.now()}`;
    const first = await create({ requestId }, c);
    const again = await create({ requestId }, c);
    expect(again.virtualMachine?.id).toBe(first.virtualMachine?.id);
    expect(again.operation?.id).toBe(first.operation?.id);
    const concurrent = await Promise.all(Array.from({ length: 6 }, () => create({ requestId: `${requestId}-c` }, c)));
    expect(new Set(concurrent.map((r) => r.virtualMachine?.id)).size).toBe(1);
    expect(await failure(create({ requestId, role: VirtualMachineRole.WORKER }, c))).toMatchObject({ reason: "REQUEST_ID_REUSED" });
    const counted = await t.server.db
      .em()
      .execute<{ count: number }[]>("select count(*)::int as count from virtual_machine where tenant_id = ?", [c.tenantId]);
    expect(counted).toEqual([{ count: 2 }]);
    // Every call is audited: the retry as a success naming the first creation's VM, the reuse as refused.
    const audit = await t.server.db
      .em()
      .execute<{ result: string; reason: string }[]>(
        "select result, reason from audit_event where method like '%/CreateVirtualMachine' and (resource_id = ? or reason = 'REQUEST_ID_REUSED')",
        [first.virtualMachine!.id],
      );
    expect(audit.map((row) => `${row.result} ${row.reason}`).sort()).toEqual(["FAILED_PRECONDITION REQUEST_ID_REUSED", "OK ", "OK "]);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("follows a changed naming rule at once, and a rule changed back continues its own numbers", async () => {
    const c = await buildCloud(t, { name: "rn", hosts: 2 });
    const rule = (template: string) =>
      t.clients().tenants.updateTenant({
        tenant: { id: c.tenantId, namingRule: { template, pattern: "" } },
        updateMask: { paths: ["naming_rule"] },
      });
    const names: string[] = [];
    const next = async () => names.push((await create({}, c)).virtualMachine!.name);
    await next();
    await next();
    await rule("{tenant}-x-{seq:02}");
    await next();
    await rule("");
    await next();
    expect(names).toEqual(["rn-vm-0001", "rn-vm-0002", "rn-x-01", "rn-vm-0003"]);
  });

  it("leaves nothing behind when its final statement fails, and the next creations go through", async () => {
    const c = await buildCloud(t, { name: "fs", hosts: 2 });
    await create({ name: "fs-one" }, c);
    const em = t.server.db.em();
    const state = async () =>
      em.execute(
        `select (select sum(cpu_cores_allocated)::int from baremetal where group_id = ?) as allocated,
                (select cpu_used from baremetal_group_tenant_quota where tenant_id = ? and group_id = ?) as used,
                (select count(*)::int from operation where tenant_id = ?) as operations,
                (select count(*)::int from scheduling_record where tenant_id = ?) as records`,
        [c.groupId, c.tenantId, c.groupId, c.tenantId, c.tenantId],
      );
    const before = await state();
    // The duplicate name is caught by the unique index in the statement that also commits.
    expect(await failure(create({ name: "fs-one" }, c))).toMatchObject({ reason: "ALREADY_EXISTS" });
    expect(await state()).toEqual(before);
    const created = await Promise.all(Array.from({ length: 8 }, () => create({}, c)));
    expect(created.every((r) => r.virtualMachine?.state === VirtualMachineState.PENDING)).toBe(true);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });
});

describe("the lifecycle", () => {
  it("goes PENDING → PROVISIONING → RUNNING ⇄ STOPPED, reboots, and deletes, releasing the reservation", async () => {
    const compute = t.compute();
    const { virtualMachine, operation } = await create();
    const id = virtualMachine!.id;
    expect(await failure(compute.startVirtualMachine({ id }))).toMatchObject({ reason: "OPERATION_IN_PROGRESS" });
    await finishOperation(t, operation!.id, { succeeded: true, facts: { hypervisorId: "kvm-42", ipAddresses: ["10.0.0.5"] } });
    let vm = (await compute.getVirtualMachine({ id })).virtualMachine!;
    expect(vm).toMatchObject({
      state: VirtualMachineState.RUNNING,
      hypervisorId: "kvm-42",
      ipAddresses: ["10.0.0.5"],
      activeOperationId: "",
    });
    expect(await failure(compute.startVirtualMachine({ id }))).toMatchObject({ reason: "INVALID_STATE", metadata: { state: "RUNNING" } });

    const stop = (await compute.stopVirtualMachine({ id, force: true })).operation!;
    expect(await failure(compute.rebootVirtualMachine({ id }))).toMatchObject({ reason: "OPERATION_IN_PROGRESS" });
    await finishOperation(t, stop.id);
    expect((await compute.getVirtualMachine({ id })).virtualMachine?.state).toBe(VirtualMachineState.STOPPED);
    expect(await failure(compute.rebootVirtualMachine({ id }))).toMatchObject({ reason: "INVALID_STATE" });

    await finishOperation(t, (await compute.startVirtualMachine({ id })).operation!.id);
    const reboot = (await compute.rebootVirtualMachine({ id })).operation!;
    expect((await compute.getVirtualMachine({ id })).virtualMachine?.state).toBe(VirtualMachineState.REBOOTING);
    await finishOperation(t, reboot.id);
    expect((await compute.getVirtualMachine({ id })).virtualMachine?.state).toBe(VirtualMachineState.RUNNING);

    const hostBefore = (await t.clients().inventory.getBaremetal({ id: vm.baremetalId })).baremetal!;
    const del = (await compute.deleteVirtualMachine({ id, keepDataDisk: true })).operation!;
    expect((await compute.getVirtualMachine({ id })).virtualMachine?.state).toBe(VirtualMachineState.DELETING);
    const [job] = await t.server.db.em().execute("select payload from job where operation_id = ?", [del.id]);
    expect(job?.payload).toMatchObject({ keepDataDisk: true });
    await finishOperation(t, del.id);
    vm = (await compute.getVirtualMachine({ id })).virtualMachine!;
    expect(vm.state).toBe(VirtualMachineState.DELETED);
    const hostAfter = (await t.clients().inventory.getBaremetal({ id: vm.baremetalId })).baremetal!;
    expect(hostAfter.allocated!.cpuCores).toBe(hostBefore.allocated!.cpuCores - 2);
    const { schedulingRecords } = await compute.listSchedulingRecords({ filter: `virtual_machine_id = "${id}"` });
    expect(schedulingRecords[0]?.events.map((e) => e.kind)).toEqual(["RESERVED", "RELEASED"]);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("releases the reservation of a failed creation and shows the agent's error on the operation", async () => {
    const { virtualMachine, operation } = await create();
    await finishOperation(t, operation!.id, {
      succeeded: false,
      error: { code: "UNAVAILABLE", reason: "HYPERVISOR_DOWN", message: "libvirt unreachable", metadata: { host: "h1" } },
    });
    const vm = (await t.compute().getVirtualMachine({ id: virtualMachine!.id })).virtualMachine!;
    expect(vm.state).toBe(VirtualMachineState.ERROR);
    const op = (await t.operations().getOperation({ id: operation!.id })).operation!;
    expect(op).toMatchObject({
      state: OperationState.FAILED,
      error: { code: "UNAVAILABLE", reason: "HYPERVISOR_DOWN", message: "libvirt unreachable" },
    });
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    await finishOperation(t, (await t.compute().deleteVirtualMachine({ id: vm.id })).operation!.id);
  });

  it("cancels an operation no agent has taken, undoing it, and refuses once one has", async () => {
    const { virtualMachine, operation } = await create();
    const cancelled = (await t.operations().cancelOperation({ id: operation!.id })).operation!;
    expect(cancelled.state).toBe(OperationState.CANCELLED);
    expect((await t.compute().getVirtualMachine({ id: virtualMachine!.id })).virtualMachine?.state).toBe(VirtualMachineState.DELETED);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });

    const second = await create();
    await t.server.db.em().transactional(async (em) => {
      await startOperation(em, second.operation!.id);
    });
    expect(await failure(t.operations().cancelOperation({ id: second.operation!.id }))).toMatchObject({ reason: "OPERATION_STARTED" });
    expect((await t.compute().getVirtualMachine({ id: second.virtualMachine!.id })).virtualMachine?.state).toBe(
      VirtualMachineState.PROVISIONING,
    );
  });

  it("streams an operation's changes until it is done", async () => {
    const { operation } = await create();
    const seen: OperationState[] = [];
    const watching = (async () => {
      for await (const message of t.operations().watchOperation({ id: operation!.id })) seen.push(message.operation!.state);
    })();
    await new Promise((resolve) => setTimeout(resolve, 150));
    await finishOperation(t, operation!.id);
    await watching;
    expect(seen[0]).toBe(OperationState.PENDING);
    expect(seen.at(-1)).toBe(OperationState.SUCCEEDED);
  });

  it("shows a VM with its tenant, host location and maintainers in one call; tenants see only their own", async () => {
    const { virtualMachine } = await create();
    const detail = await t.compute().getVirtualMachine({ id: virtualMachine!.id });
    expect(detail.tenant?.name).toBe("vm");
    expect(detail.host).toMatchObject({ rack: { id: cloud.rackId, name: "vm-rack" }, room: { name: "vm-room" }, region: { name: "vm-r" } });
    const member = await t.token(Role.TENANT_MEMBER, "vm-user", cloud.tenantId);
    expect((await t.compute(member).getVirtualMachine({ id: virtualMachine!.id })).virtualMachine?.id).toBe(virtualMachine!.id);
    const stranger = await t.token(Role.TENANT_MEMBER, "stranger", await t.tenant("strangers"));
    expect(await failure(t.compute(stranger).getVirtualMachine({ id: virtualMachine!.id }))).toMatchObject({
      reason: "RESOURCE_NOT_FOUND",
    });
    const { virtualMachines } = await t.compute(stranger).listVirtualMachines({});
    expect(virtualMachines).toEqual([]);
    expect(
      await failure(
        t.compute(stranger).createVirtualMachine({
          tenantId: cloud.tenantId,
          target: { case: "groupId", value: cloud.groupId },
          specificationId: cloud.specificationId,
          imageId: cloud.imageId,
        }),
      ),
    ).toMatchObject({
      reason: "TENANT_MISMATCH",
    });
  });
});

describe("under concurrency", () => {
  it("admits exactly what quota and capacity allow, and the counters equal the reservations", async () => {
    // 3 hosts × 16 cores = 48 vCPU of capacity, a 24-vCPU quota, 2-vCPU VMs: 12 may exist.
    const c = await buildCloud(t, { name: "race", hosts: 3, quotaCpu: 24n });
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => create({}, c)));
    const admitted = results.filter((r) => r.status === "fulfilled");
    expect(admitted).toHaveLength(12);
    for (const refused of results.filter((r) => r.status === "rejected")) {
      expect(ConnectError.from((refused as PromiseRejectedResult).reason).findDetails(ErrorInfoSchema)[0]?.reason).toBe("QUOTA_EXCEEDED");
    }
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });
});

describe("history", () => {
  it("a deleted host takes its DELETED VMs with their scheduling records and maintainer assignments", async () => {
    const c = await buildCloud(t, { name: "purge", hosts: 1 });
    const { virtualMachine, operation } = await create({}, c);
    const transport = createGrpcTransport({
      baseUrl: t.url,
      interceptors: [bearer(t.adminToken)],
    });
    const maintainers = createClient(MaintainerService, transport);
    const { maintainer } = await maintainers.createMaintainer({ maintainer: { name: "Purge", account: "purge-ops" } });
    await maintainers.createResourceMaintainer({
      resourceMaintainer: {
        resource: { type: "virtual_machine", id: virtualMachine!.id },
        assignee: { case: "maintainerId", value: maintainer!.id },
        role: MaintainerRole.OWNER,
      },
    });
    await t.operations().cancelOperation({ id: operation!.id });
    const em = t.server.db.em();
    const left = async () =>
      (
        await em.execute<{ vms: number; records: number; assignments: number }[]>(
          `select (select count(*)::int from virtual_machine where id = ?) as vms,
                  (select count(*)::int from scheduling_record where virtual_machine_id = ?) as records,
                  (select count(*)::int from resource_maintainer where resource_id = ?) as assignments`,
          [virtualMachine!.id, virtualMachine!.id, virtualMachine!.id],
        )
      )[0];
    expect(await left()).toEqual({ vms: 1, records: 1, assignments: 1 });
    await t.clients().inventory.deleteBaremetal({ id: virtualMachine!.baremetalId });
    expect(await left()).toEqual({ vms: 0, records: 0, assignments: 0 });
  });
});
