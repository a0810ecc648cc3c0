// PreviewVirtualMachineName through a real server: it shows the name the next create without a name
// gets, from the tenant's rule and role, and uses no number up however often it is asked; a tenant's
// people see only their own tenant's.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { VirtualMachineRole } from "../../gen/es/rackplane/v1/compute_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { failure } from "../support/failure.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let cloud: Cloud;
beforeAll(async () => {
  t = await startTestServer();
  cloud = await buildCloud(t, { name: "pv", hosts: 2 });
});
afterAll(() => t.close());

const create = (role = VirtualMachineRole.UNSPECIFIED) =>
  t.compute().createVirtualMachine({
    tenantId: cloud.tenantId,
    target: { case: "groupId", value: cloud.groupId },
    specificationId: cloud.specificationId,
    imageId: cloud.imageId,
    role,
  });

it("previews the next name of the default rule and of a tenant's own, without drawing a number", async () => {
  const preview = (role = VirtualMachineRole.UNSPECIFIED) => t.compute().previewVirtualMachineName({ tenantId: cloud.tenantId, role });
  expect(await preview()).toMatchObject({ name: "pv-vm-0001", template: "{tenant}-vm-{seq:04}", pattern: "" });
  expect((await preview()).name).toBe("pv-vm-0001");
  expect((await create()).virtualMachine?.name).toBe("pv-vm-0001");
  expect((await preview()).name).toBe("pv-vm-0002");

  await t.clients().tenants.updateTenant({
    tenant: { id: cloud.tenantId, namingRule: { template: "{tenant}-{role}-{seq:02}", pattern: "pv-[a-z-]+-\\d+" } },
    updateMask: { paths: ["naming_rule"] },
  });
  expect(await preview(VirtualMachineRole.WORKER)).toMatchObject({ name: "pv-worker-01", pattern: "pv-[a-z-]+-\\d+" });
  // Without a role the new rule renders "pv-vm-" as the old one did: one sequence, so 1 is taken.
  expect((await preview()).name).toBe("pv-vm-02");
  for (let i = 0; i < 3; i++) await preview(VirtualMachineRole.WORKER);
  expect((await create(VirtualMachineRole.WORKER)).virtualMachine?.name).toBe("pv-worker-01");
  expect((await preview(VirtualMachineRole.WORKER)).name).toBe("pv-worker-02");
});

it("answers another tenant's people NOT_FOUND, as for a tenant that does not exist", async () => {
  const other = await t.tenant("pv-other");
  const member = t.compute(await t.token(Role.TENANT_MEMBER, "pv-other-member", other));
  expect((await member.previewVirtualMachineName({ tenantId: other })).name).toBe("pv-other-vm-0001");
  expect(await failure(member.previewVirtualMachineName({ tenantId: cloud.tenantId }))).toMatchObject({
    code: Code.NotFound,
    reason: "RESOURCE_NOT_FOUND",
  });
});
