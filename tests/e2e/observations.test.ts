// Observed state (issue 19) through the real server: agents report hosts and VMs in batches; the
// latest observation shows on the views with its age; an old one reads UNKNOWN; a late report does
// not regress the state; a report outside the agent's scope is NOT_FOUND and stores nothing; each
// call is audited once.
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import {
  Health,
  HealthReasonKind,
  ObservationOutcome,
  type ObservationReportSchema,
  PowerState,
} from "../../gen/es/rackplane/v1/observation_pb.js";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import { BaremetalStatus } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let east: Cloud;
let west: Cloud;
let eastVm = "";
let westVm = "";
const secrets = { east: "", fleet: "" };
const STALE_MILLIS = 60_000;
const GRACE_MILLIS = 60_000;
const MISSING = "0f5b4a3e-58a1-4c4e-9b7e-1d2c3b4a5f60";

beforeAll(async () => {
  t = await startTestServer(undefined, { observationStaleMillis: STALE_MILLIS, driftGraceMillis: GRACE_MILLIS });
  east = await buildCloud(t, { name: "oe", hosts: 2 });
  west = await buildCloud(t, { name: "ow", hosts: 1 });
  const vm = async (cloud: Cloud) =>
    (
      await t.compute().createVirtualMachine({
        tenantId: cloud.tenantId,
        target: { case: "groupId", value: cloud.groupId },
        specificationId: cloud.specificationId,
        imageId: cloud.imageId,
      })
    ).virtualMachine!.id;
  eastVm = await vm(east);
  westVm = await vm(west);
  secrets.east = (
    await t
      .clients()
      .identity.createToken({ principal: "observer-east", role: Role.AGENT, agentScope: { datacenterIds: [east.datacenterId] } })
  ).secret;
  secrets.fleet = await t.token(Role.AGENT, "observer-fleet");
});
afterAll(async () => {
  await t?.close();
});

type Report = MessageInitShape<typeof ObservationReportSchema>;
type Values = Pick<Report, "health" | "reasons" | "cpuPercent" | "powerState">;
const ago = (millis: number) => timestampFromMs(Date.now() - millis);
const hostReport = (id: string, millisAgo: number, extra: Values = {}): Report => ({
  subject: { case: "baremetalId", value: id },
  observeTime: ago(millisAgo),
  powerState: PowerState.ON,
  health: Health.OK,
  cpuPercent: 12.5,
  memoryUsedMib: 20_000n,
  storageUsedGib: 300n,
  ...extra,
});
const vmReport = (id: string, millisAgo: number, extra: Values = {}): Report => ({
  subject: { case: "virtualMachineId", value: id },
  observeTime: ago(millisAgo),
  powerState: PowerState.ON,
  cpuPercent: 85,
  memoryUsedMib: 1_500n,
  storageUsedGib: 7n,
  ...extra,
});
const report = (who: keyof typeof secrets, observations: Report[]) => t.agents(secrets[who]).reportObservations({ observations });

async function storedRows(): Promise<number> {
  const [row] = await t.server.db.em().execute<{ n: string }[]>("select count(*) as n from observation");
  return Number(row!.n);
}

describe("ReportObservations", () => {
  it("shows a host's and a VM's latest observation on their views, with its age", async () => {
    const result = await report("fleet", [
      hostReport(east.hostIds[0]!, 2_000, {
        health: Health.WARNING,
        reasons: [{ kind: HealthReasonKind.DISK_FAILED, message: "sdb: 12 reallocated sectors" }],
      }),
      vmReport(eastVm, 1_000),
    ]);
    expect(result.outcomes).toEqual([ObservationOutcome.ACCEPTED, ObservationOutcome.ACCEPTED]);
    expect(result.acceptedCount).toBe(2);

    const { baremetal } = await t.clients().inventory.getBaremetal({ id: east.hostIds[0]! });
    const host = baremetal!.observation!;
    expect(host).toMatchObject({
      stale: false,
      health: Health.WARNING,
      reportedHealth: Health.WARNING,
      powerState: PowerState.ON,
      cpuPercent: 12.5,
      memoryUsedMib: 20_000n,
      storageUsedGib: 300n,
    });
    expect(host.reasons).toMatchObject([{ kind: HealthReasonKind.DISK_FAILED, message: "sdb: 12 reallocated sectors" }]);
    const age = Number(host.age!.seconds) + host.age!.nanos / 1e9;
    expect(age).toBeGreaterThanOrEqual(1.5);
    expect(age).toBeLessThan(30);

    const { virtualMachine } = await t.compute().getVirtualMachine({ id: eastVm });
    expect(virtualMachine!.observation).toMatchObject({
      stale: false,
      health: Health.OK,
      reportedHealth: Health.UNSPECIFIED,
      powerState: PowerState.ON,
      cpuPercent: 85,
      memoryUsedMib: 1_500n,
      storageUsedGib: 7n,
    });

    const { virtualMachines } = await t.compute().listVirtualMachines({ filter: `id = "${eastVm}"` });
    expect(virtualMachines[0]!.observation?.cpuPercent).toBe(85);
    const { baremetals } = await t.clients().inventory.listBaremetals({ filter: `id = "${east.hostIds[1]}"` });
    expect(baremetals[0]!.observation).toBeUndefined();
  });

  it("reads an observation older than the limit as UNKNOWN, keeping its last values and time", async () => {
    await report("fleet", [hostReport(east.hostIds[1]!, STALE_MILLIS + 30_000, { health: Health.OK, cpuPercent: 40 })]);
    const { baremetal } = await t.clients().inventory.getBaremetal({ id: east.hostIds[1]! });
    expect(baremetal!.observation).toMatchObject({ stale: true, health: Health.UNKNOWN, reportedHealth: Health.OK, cpuPercent: 40 });
    expect(Number(baremetal!.observation!.age!.seconds)).toBeGreaterThanOrEqual(90);
    // A fresh report makes it count again.
    await report("fleet", [hostReport(east.hostIds[1]!, 0, { health: Health.CRITICAL, cpuPercent: 41 })]);
    const again = await t.clients().inventory.getBaremetal({ id: east.hostIds[1]! });
    expect(again.baremetal!.observation).toMatchObject({ stale: false, health: Health.CRITICAL, cpuPercent: 41 });
  });

  it("ignores a report older than the stored one, and keeps the newest of a batch", async () => {
    await report("fleet", [vmReport(eastVm, 500, { cpuPercent: 50 })]);
    const late = await report("fleet", [vmReport(eastVm, 20_000, { cpuPercent: 1, powerState: PowerState.OFF })]);
    expect(late.outcomes).toEqual([ObservationOutcome.SUPERSEDED]);
    expect(late.acceptedCount).toBe(0);
    const batch = await report("fleet", [
      vmReport(eastVm, 300, { cpuPercent: 60 }),
      vmReport(eastVm, 100, { cpuPercent: 70 }),
      vmReport(eastVm, 200, { cpuPercent: 65 }),
    ]);
    expect(batch.outcomes).toEqual([ObservationOutcome.SUPERSEDED, ObservationOutcome.ACCEPTED, ObservationOutcome.SUPERSEDED]);
    const { virtualMachine } = await t.compute().getVirtualMachine({ id: eastVm });
    expect(virtualMachine!.observation).toMatchObject({ cpuPercent: 70, powerState: PowerState.ON });
  });

  it("answers NOT_FOUND for a host or VM outside the agent's scope, as for one that does not exist, and stores nothing", async () => {
    const before = await storedRows();
    const result = await report("east", [
      hostReport(west.hostIds[0]!, 0),
      vmReport(westVm, 0),
      vmReport(MISSING, 0),
      hostReport(MISSING, 0),
      vmReport(eastVm, 0, { cpuPercent: 5 }),
    ]);
    expect(result.outcomes).toEqual([
      ObservationOutcome.NOT_FOUND,
      ObservationOutcome.NOT_FOUND,
      ObservationOutcome.NOT_FOUND,
      ObservationOutcome.NOT_FOUND,
      ObservationOutcome.ACCEPTED,
    ]);
    expect(await storedRows()).toBe(before);
    const { virtualMachine } = await t.compute().getVirtualMachine({ id: westVm });
    expect(virtualMachine!.observation).toBeUndefined();
  });

  it("audits each call once, whatever its size", async () => {
    const requestId = crypto.randomUUID();
    await t
      .agents(secrets.fleet)
      .reportObservations(
        { observations: [hostReport(west.hostIds[0]!, 0), vmReport(westVm, 0), vmReport(MISSING, 0)] },
        { headers: { "x-request-id": requestId } },
      );
    const { auditEvents } = await t.clients().audit.listAuditEvents({ filter: `request_id = "${requestId}"`, pageSize: 10 });
    expect(auditEvents).toHaveLength(1);
    expect(auditEvents[0]).toMatchObject({
      principal: "observer-fleet",
      resourceType: "observation",
      result: "OK",
      message: "3 observations: 2 accepted, 0 superseded, 1 not found",
    });
  });

  it("filters hosts and VMs on effective health and observed use", async () => {
    const f = await buildCloud(t, { name: "of", hosts: 3 });
    await report("fleet", [
      hostReport(f.hostIds[0]!, 0, { health: Health.CRITICAL, cpuPercent: 95 }),
      hostReport(f.hostIds[1]!, STALE_MILLIS + 10_000, { health: Health.OK, cpuPercent: 10 }),
      vmReport(eastVm, 0, { cpuPercent: 90 }),
      vmReport(westVm, 0, { cpuPercent: 20, powerState: PowerState.OFF }),
    ]);
    const hostIds = async (filter: string) =>
      (await t.clients().inventory.listBaremetals({ filter, pageSize: 100 })).baremetals.map((host) => host.id).sort();
    const vmIds = async (filter: string) =>
      (await t.compute().listVirtualMachines({ filter, pageSize: 100 })).virtualMachines.map((vm) => vm.id).sort();
    const group = `group_id = "${f.groupId}"`;
    expect(await hostIds(`${group} AND health = "CRITICAL"`)).toEqual([f.hostIds[0]]);
    // Stale, and never reported: both UNKNOWN.
    expect(await hostIds(`${group} AND health = HEALTH_UNKNOWN`)).toEqual([f.hostIds[1], f.hostIds[2]].sort());
    expect(await hostIds(`${group} AND observed.cpu_percent > 80`)).toEqual([f.hostIds[0]]);
    expect(await hostIds(`${group} AND health = "OK"`)).toEqual([]);
    expect(await vmIds("observed.cpu_percent > 80")).toEqual([eastVm]);
    expect(await vmIds('observed.power_state = "OFF"')).toEqual([westVm]);
    expect(await vmIds('health = "OK" AND observed.memory_used_mib >= 1500')).toEqual([eastVm, westVm].sort());
  });

  it("marks a VM drifted when its observed power contradicts the record past the grace period, audits start and end, and never changes the record", async () => {
    const d = await buildCloud(t, { name: "od", hosts: 1 });
    const agent = createSimulatedAgent({
      servers: [t.server.url.replace("http://", "")],
      token: await t.token(Role.AGENT, "observer-sim"),
      agentId: "observer-sim",
      latencyMs: 20,
      groupIds: [d.groupId],
    });
    agent.start();
    try {
      const { virtualMachine } = await t.compute().createVirtualMachine({
        tenantId: d.tenantId,
        target: { case: "groupId", value: d.groupId },
        specificationId: d.specificationId,
        imageId: d.imageId,
      });
      const id = virtualMachine!.id;
      const deadline = Date.now() + 20_000;
      while ((await t.compute().getVirtualMachine({ id })).virtualMachine!.state !== VirtualMachineState.RUNNING) {
        if (Date.now() > deadline) throw new Error("the simulated agent did not bring the VM to RUNNING");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const current = async () => (await t.compute().getVirtualMachine({ id })).virtualMachine!;
      const drifted = async () =>
        (await t.compute().listVirtualMachines({ filter: "drifted = true", pageSize: 100 })).virtualMachines.map((vm) => vm.id);

      // Off for a moment: contradicting, not yet drifted.
      await report("fleet", [vmReport(id, 100_000, { powerState: PowerState.OFF, cpuPercent: 0 })]);
      let vm = await current();
      expect(vm.observation).toMatchObject({ drifted: false, driftRecordedState: "RUNNING" });
      expect(await drifted()).not.toContain(id);
      // Still off 90 s later (more than the 60 s grace): drifted, with both states.
      await report("fleet", [vmReport(id, 10_000, { powerState: PowerState.OFF, cpuPercent: 0 })]);
      vm = await current();
      expect(vm.state).toBe(VirtualMachineState.RUNNING);
      expect(vm.observation).toMatchObject({ drifted: true, driftRecordedState: "RUNNING", powerState: PowerState.OFF });
      expect(Number(vm.observation!.driftStartTime!.seconds)).toBeLessThanOrEqual(Math.ceil((Date.now() - 99_000) / 1000));
      expect(await drifted()).toEqual([id]);
      expect(await driftGauge()).toBe(1);
      // On again: the drift ends.
      await report("fleet", [vmReport(id, 0, { powerState: PowerState.ON })]);
      vm = await current();
      expect(vm.observation).toMatchObject({ drifted: false, driftRecordedState: "" });
      expect(vm.observation!.driftStartTime).toBeUndefined();
      expect(await drifted()).toEqual([]);
      expect(await driftGauge()).toBe(0);

      const { auditEvents } = await t.clients().audit.listAuditEvents({ filter: `resource_id = "${id}"`, pageSize: 100 });
      // Newest first: one start, then one end.
      expect(auditEvents.filter((event) => event.reason.startsWith("DRIFT_")).map((event) => event.reason)).toEqual([
        "DRIFT_ENDED",
        "DRIFT_STARTED",
      ]);
    } finally {
      await agent.stop({ graceMs: 1_000 });
    }
  });

  it("marks a host drifted when observed off while ACTIVE past the grace period, lists and counts it, audits start and end", async () => {
    const d = await buildCloud(t, { name: "ohd", hosts: 2 });
    const [host, offline] = d.hostIds as [string, string];
    const drifted = async () =>
      (
        await t.clients().inventory.listBaremetals({ filter: `drifted = true AND group_id = "${d.groupId}"`, pageSize: 100 })
      ).baremetals.map((h) => h.id);
    const hostGauge = async () => {
      const text = await (await fetch(`${t.server.url}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith('rackplane_drifted_resources{resource_type="baremetal"}'));
      return line ? Number(line.split(" ").at(-1)) : 0;
    };
    await report("fleet", [hostReport(host, 100_000, { powerState: PowerState.OFF, cpuPercent: 0 })]);
    let observation = (await t.clients().inventory.getBaremetal({ id: host })).baremetal!.observation!;
    expect(observation).toMatchObject({ drifted: false, driftRecordedState: "ACTIVE" });
    await report("fleet", [hostReport(host, 10_000, { powerState: PowerState.OFF, cpuPercent: 0 })]);
    const { baremetal } = await t.clients().inventory.getBaremetal({ id: host });
    expect(baremetal!.status).toBe(BaremetalStatus.ACTIVE);
    expect(baremetal!.observation).toMatchObject({ drifted: true, driftRecordedState: "ACTIVE", powerState: PowerState.OFF });
    expect(await drifted()).toEqual([host]);
    expect(await hostGauge()).toBe(1);

    // An OFFLINE host observed on contradicts its record too.
    await t.clients().inventory.setBaremetalStatus({ id: offline, status: BaremetalStatus.OFFLINE, reason: "psu" });
    await report("fleet", [hostReport(offline, 100_000), hostReport(host, 0)]);
    await report("fleet", [hostReport(offline, 0)]);
    expect(await drifted()).toEqual([offline]);
    observation = (await t.clients().inventory.getBaremetal({ id: offline })).baremetal!.observation!;
    expect(observation).toMatchObject({ drifted: true, driftRecordedState: "OFFLINE", powerState: PowerState.ON });
    // The operator records what is true: the next report agrees and ends the drift.
    await t.clients().inventory.setBaremetalStatus({ id: offline, status: BaremetalStatus.ACTIVE, reason: "back" });
    await report("fleet", [hostReport(offline, -1_000)]);
    expect(await drifted()).toEqual([]);
    expect(await hostGauge()).toBe(0);

    for (const id of [host, offline]) {
      const { auditEvents } = await t.clients().audit.listAuditEvents({ filter: `resource_id = "${id}"`, pageSize: 100 });
      expect(auditEvents.filter((event) => event.reason.startsWith("DRIFT_")).map((event) => [event.resourceType, event.reason])).toEqual([
        ["baremetal", "DRIFT_ENDED"],
        ["baremetal", "DRIFT_STARTED"],
      ]);
    }
  });

  it("receives plausible use from the simulated agent, a failing host, and a VM that powered off by itself", async () => {
    const sim = await buildCloud(t, { name: "os", hosts: 2 });
    const agent = createSimulatedAgent({
      servers: [t.server.url.replace("http://", "")],
      token: await t.token(Role.AGENT, "observer-sim2"),
      agentId: "observer-sim2",
      latencyMs: 20,
      groupIds: [sim.groupId],
      observeIntervalMs: 100,
      hostIds: sim.hostIds,
      failingHostIds: [sim.hostIds[1]!],
      selfPowerOffAfterMs: 300,
    });
    agent.start();
    try {
      const { virtualMachine } = await t.compute().createVirtualMachine({
        tenantId: sim.tenantId,
        target: { case: "groupId", value: sim.groupId },
        specificationId: sim.specificationId,
        imageId: sim.imageId,
      });
      const id = virtualMachine!.id;
      const deadline = Date.now() + 20_000;
      // The record says RUNNING; the hypervisor has it off: contradicting (drift after the grace).
      for (;;) {
        const vm = (await t.compute().getVirtualMachine({ id })).virtualMachine!;
        if (vm.state === VirtualMachineState.RUNNING && vm.observation?.powerState === PowerState.OFF) {
          expect(vm.observation).toMatchObject({ stale: false, driftRecordedState: "RUNNING", cpuPercent: 0 });
          break;
        }
        if (Date.now() > deadline) throw new Error(`no OFF observation of the running VM: ${JSON.stringify(vm.observation)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const healthy = (await t.clients().inventory.getBaremetal({ id: sim.hostIds[0]! })).baremetal!.observation!;
      expect(healthy.health).toBe(Health.OK);
      expect(healthy.cpuPercent).toBeGreaterThanOrEqual(10);
      expect(healthy.cpuPercent).toBeLessThanOrEqual(70);
      const failing = (await t.clients().inventory.getBaremetal({ id: sim.hostIds[1]! })).baremetal!.observation!;
      expect(failing).toMatchObject({ health: Health.CRITICAL, reasons: [{ kind: HealthReasonKind.DISK_FAILED }] });
    } finally {
      await agent.stop({ graceMs: 1_000 });
    }
  });

  it("refuses a host without health, a VM with one, and a tenant's token", async () => {
    const code = async (call: Promise<unknown>) => {
      try {
        await call;
      } catch (error) {
        return Code[ConnectError.from(error).code];
      }
      return "OK";
    };
    expect(await code(report("fleet", [hostReport(east.hostIds[0]!, 0, { health: Health.UNSPECIFIED })]))).toBe("InvalidArgument");
    expect(await code(report("fleet", [vmReport(eastVm, 0, { health: Health.OK })]))).toBe("InvalidArgument");
    expect(await code(report("fleet", [hostReport(east.hostIds[0]!, 0, { health: Health.UNKNOWN })]))).toBe("InvalidArgument");
    const tenantToken = await t.token(Role.TENANT_ADMIN, "observer-tenant", east.tenantId);
    expect(await code(t.agents(tenantToken).reportObservations({ observations: [vmReport(eastVm, 0)] }))).toBe("PermissionDenied");
  });

  it("shows each host's health and the rack's observed use beside its allocation in the elevation", async () => {
    const rack = await buildCloud(t, { name: "oel", hosts: 3 });
    const [fresh, stale, silent] = rack.hostIds as [string, string, string];
    await report("fleet", [
      hostReport(fresh, 1_000, { health: Health.WARNING, cpuPercent: 50 }),
      hostReport(stale, STALE_MILLIS + 30_000, { health: Health.OK, cpuPercent: 90 }),
    ]);
    const { units, load } = await t.clients().inventory.getRackElevation({ rackId: rack.rackId });
    const occupant = (id: string) => units.find((unit) => unit.occupant?.id === id)!.occupant!;
    expect(occupant(fresh)).toMatchObject({ kind: "baremetal", health: Health.WARNING, observation: { stale: false, cpuPercent: 50 } });
    expect(Number(occupant(fresh).observation!.age!.seconds)).toBeLessThan(30);
    expect(occupant(stale)).toMatchObject({
      health: Health.UNKNOWN,
      observation: { stale: true, reportedHealth: Health.OK, cpuPercent: 90 },
    });
    expect(occupant(silent).health).toBe(Health.UNKNOWN);
    expect(occupant(silent).observation).toBeUndefined();

    const { baremetal } = await t.clients().inventory.getBaremetal({ id: fresh });
    const cores = baremetal!.capacity!.cpuCores;
    expect(load).toMatchObject({
      hostCount: 3,
      cpuCoresCapacity: BigInt(cores * 3),
      // Only the fresh host counts: a stale observation is not current use.
      observedHostCount: 1,
      cpuCoresUsed: cores * 0.5,
      memoryMibUsed: 20_000n,
      storageGibUsed: 300n,
    });
  });
});

/** The drifted VMs /metrics counts (0 when the family has no sample for them). */
async function driftGauge(): Promise<number> {
  const text = await (await fetch(`${t.server.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith('rackplane_drifted_resources{resource_type="virtual_machine"}'));
  return line ? Number(line.split(" ").at(-1)) : 0;
}
