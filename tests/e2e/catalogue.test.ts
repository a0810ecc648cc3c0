// The VM catalogue end to end (VM-1, VM-2): specifications and images through ComputeService on a
// real server over a real PostgreSQL database — create, read, list with filters, update with an
// update_mask (sizes and architecture are fixed), delete refused while a VM uses the entry, and who
// may do what.
import { randomUUID } from "node:crypto";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditService } from "../../gen/es/rackplane/v1/audit_pb.js";
import { Architecture, ComputeService, ImageStatus } from "../../gen/es/rackplane/v1/compute_pb.js";
import { IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { TenantService } from "../../gen/es/rackplane/v1/tenant_pb.js";
import { failure } from "../support/failure.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t?.close());

// ---------------------------------------------------------------------------------------------
// Helpers

function as(secret: string = t.adminToken) {
  const transport = createGrpcTransport({
    baseUrl: t.url,
    interceptors: [bearer(secret)],
  });
  return {
    compute: createClient(ComputeService, transport),
    tenants: createClient(TenantService, transport),
    inventory: createClient(InventoryService, transport),
    identity: createClient(IdentityService, transport),
    audit: createClient(AuditService, transport),
  };
}
const admin = () => as();

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

const spec = (fields: Record<string, unknown> = {}) => ({
  name: unique("c4.m16"),
  vcpu: 4,
  memoryMib: 16384n,
  storageGib: 100n,
  generation: "gen3",
  ...fields,
});
const image = (fields: Record<string, unknown> = {}) => ({
  name: unique("ubuntu-24.04"),
  osFamily: "ubuntu",
  osVersion: "24.04",
  architecture: Architecture.X86_64,
  ...fields,
});

async function newSpec(fields: Record<string, unknown> = {}) {
  return (await admin().compute.createVirtualMachineSpecification({ specification: spec(fields) })).specification!;
}
async function newImage(fields: Record<string, unknown> = {}) {
  return (await admin().compute.createImage({ image: image(fields) })).image!;
}

async function lastAudit(method: string, resourceId: string) {
  const { auditEvents } = await admin().audit.listAuditEvents({
    filter: `method = "rackplane.v1.ComputeService/${method}" AND resource_id = "${resourceId}"`,
  });
  return auditEvents[0];
}

// ---------------------------------------------------------------------------------------------

describe("specifications", () => {
  it("creates, gets and lists a specification", async () => {
    const { compute } = admin();
    const name = unique("c8.m32");
    const { specification } = await compute.createVirtualMachineSpecification({
      specification: {
        name,
        vcpu: 8,
        memoryMib: 32768n,
        storageGib: 200n,
        generation: "gen4",
        description: "general purpose",
        id: randomUUID(),
      },
    });
    expect(specification).toMatchObject({
      name,
      vcpu: 8,
      memoryMib: 32768n,
      storageGib: 200n,
      generation: "gen4",
      deprecated: false,
      description: "general purpose",
      etag: '"1"',
    });
    expect(specification!.createTime).toBeDefined();
    expect((await compute.getVirtualMachineSpecification({ id: specification!.id })).specification).toEqual(specification);
    const listed = await compute.listVirtualMachineSpecifications({ filter: `name = "${name}"` });
    expect(listed.specifications).toEqual([specification]);
    expect(await lastAudit("CreateVirtualMachineSpecification", specification!.id)).toMatchObject({
      result: "OK",
      resourceType: "virtual_machine_specification",
    });
  });

  it("refuses sizes that are zero or too large, names that break the pattern, and duplicates", async () => {
    const { compute } = admin();
    const zero = await failure(compute.createVirtualMachineSpecification({ specification: spec({ vcpu: 0 }) }));
    expect(zero).toMatchObject({ code: Code.InvalidArgument, reason: "VALIDATION_FAILED" });
    expect(zero.fields).toContain("specification");
    expect(await failure(compute.createVirtualMachineSpecification({ specification: spec({ memoryMib: 0n }) }))).toMatchObject({
      code: Code.InvalidArgument,
    });
    expect(await failure(compute.createVirtualMachineSpecification({ specification: spec({ vcpu: 1025 }) }))).toMatchObject({
      code: Code.InvalidArgument,
      fields: ["specification.vcpu"],
    });
    expect(await failure(compute.createVirtualMachineSpecification({ specification: spec({ name: "bad name!" }) }))).toMatchObject({
      code: Code.InvalidArgument,
      fields: ["specification.name"],
    });
    expect(await failure(compute.createVirtualMachineSpecification({ specification: spec({ name: "" }) }))).toMatchObject({
      code: Code.InvalidArgument,
    });
    const taken = await newSpec();
    expect(await failure(compute.createVirtualMachineSpecification({ specification: spec({ name: taken.name }) }))).toMatchObject({
      code: Code.AlreadyExists,
      reason: "ALREADY_EXISTS",
    });
  });

  it("answers a retried create with the first result (request_id)", async () => {
    const { compute } = admin();
    const request = { specification: spec(), requestId: randomUUID() };
    const first = await compute.createVirtualMachineSpecification(request);
    const again = await compute.createVirtualMachineSpecification(request);
    expect(again.specification).toEqual(first.specification);
    expect(await failure(compute.createVirtualMachineSpecification({ ...request, specification: spec() }))).toMatchObject({
      reason: "REQUEST_ID_REUSED",
    });
  });

  it("updates name, generation, deprecated and description; the sizes are fixed", async () => {
    const { compute } = admin();
    const created = await newSpec();
    const renamed = unique("c4.m16-v2");
    const { specification } = await compute.updateVirtualMachineSpecification({
      specification: {
        id: created.id,
        etag: created.etag,
        name: renamed,
        generation: "gen5",
        deprecated: true,
        description: "old",
        vcpu: 99,
      },
      updateMask: { paths: ["name", "generation", "deprecated", "description"] },
    });
    expect(specification).toMatchObject({
      name: renamed,
      generation: "gen5",
      deprecated: true,
      description: "old",
      vcpu: 4,
      memoryMib: 16384n,
      etag: '"2"',
    });

    for (const path of ["vcpu", "memory_mib", "storage_gib", "id", "create_time"]) {
      const refused = await failure(
        compute.updateVirtualMachineSpecification({
          specification: { id: created.id, vcpu: 8, memoryMib: 1n, storageGib: 1n },
          updateMask: { paths: [path] },
        }),
      );
      expect(refused, path).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_UPDATE_MASK", fields: ["update_mask"] });
      expect(refused.message).toContain(path);
    }
    // "*" names the updatable fields only: the sizes stay.
    const all = await compute.updateVirtualMachineSpecification({
      specification: { id: created.id, name: renamed, vcpu: 64, memoryMib: 1n, storageGib: 1n },
      updateMask: { paths: ["*"] },
    });
    expect(all.specification).toMatchObject({ vcpu: 4, memoryMib: 16384n, storageGib: 100n, generation: "", deprecated: false });
    // A name can be changed, not cleared; a stale etag is refused.
    expect(
      await failure(
        compute.updateVirtualMachineSpecification({ specification: { id: created.id, name: "" }, updateMask: { paths: ["name"] } }),
      ),
    ).toMatchObject({
      reason: "VALIDATION_FAILED",
      fields: ["specification.name"],
    });
    expect(
      await failure(
        compute.updateVirtualMachineSpecification({
          specification: { id: created.id, etag: created.etag, description: "x" },
          updateMask: { paths: ["description"] },
        }),
      ),
    ).toMatchObject({ code: Code.Aborted, reason: "ETAG_MISMATCH" });
    expect(
      await failure(
        compute.updateVirtualMachineSpecification({
          specification: { id: randomUUID(), description: "x" },
          updateMask: { paths: ["description"] },
        }),
      ),
    ).toMatchObject({
      code: Code.NotFound,
    });
  });

  it("filters on name, vcpu, memory_mib, storage_gib, generation and deprecated, and pages", async () => {
    const { compute } = admin();
    const gen = unique("genf");
    const small = await newSpec({ generation: gen, vcpu: 2, memoryMib: 4096n, storageGib: 50n });
    const medium = await newSpec({ generation: gen, vcpu: 8, memoryMib: 32768n, storageGib: 200n });
    const large = await newSpec({ generation: gen, vcpu: 32, memoryMib: 131072n, storageGib: 1000n, deprecated: true });
    const names = async (filter: string) =>
      (await compute.listVirtualMachineSpecifications({ filter: `generation = "${gen}" AND (${filter})` })).specifications.map(
        (s) => s.name,
      );
    expect(await names("vcpu >= 8")).toEqual([medium.name, large.name]);
    expect(await names("memory_mib < 32768")).toEqual([small.name]);
    expect(await names("storage_gib = 200")).toEqual([medium.name]);
    expect(await names("deprecated = true")).toEqual([large.name]);
    expect(await names("deprecated = false")).toEqual([small.name, medium.name]);
    expect(await names(`name = "${small.name}" OR name = "${large.name}"`)).toEqual([small.name, large.name]);
    expect(
      (await compute.listVirtualMachineSpecifications({ filter: `generation = "${gen.slice(0, 4)}*"` })).specifications.length,
    ).toBeGreaterThanOrEqual(3);

    const first = await compute.listVirtualMachineSpecifications({ filter: `generation = "${gen}"`, pageSize: 2 });
    expect(first.specifications.map((s) => s.id)).toEqual([small.id, medium.id]);
    const second = await compute.listVirtualMachineSpecifications({
      filter: `generation = "${gen}"`,
      pageSize: 2,
      pageToken: first.nextPageToken,
    });
    expect(second.specifications.map((s) => s.id)).toEqual([large.id]);
    expect(second.nextPageToken).toBe("");

    expect(await failure(compute.listVirtualMachineSpecifications({ filter: "cpu > 2" }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_FILTER",
    });
    expect(await failure(compute.listVirtualMachineSpecifications({ filter: 'vcpu = "many"' }))).toMatchObject({
      reason: "INVALID_FILTER",
    });
  });
});

describe("images", () => {
  it("creates an image ACTIVE by default, gets and lists it", async () => {
    const { compute } = admin();
    const created = await newImage({ description: "LTS" });
    expect(created).toMatchObject({
      status: ImageStatus.ACTIVE,
      architecture: Architecture.X86_64,
      osFamily: "ubuntu",
      osVersion: "24.04",
      description: "LTS",
      etag: '"1"',
    });
    expect((await compute.getImage({ id: created.id })).image).toEqual(created);
    const disabled = await newImage({ status: ImageStatus.DISABLED });
    expect(disabled.status).toBe(ImageStatus.DISABLED);
  });

  it("requires a name and an architecture and refuses undefined enum values", async () => {
    const { compute } = admin();
    expect(await failure(compute.createImage({ image: image({ architecture: Architecture.UNSPECIFIED }) }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
    });
    expect(await failure(compute.createImage({ image: image({ architecture: 7 }) }))).toMatchObject({
      code: Code.InvalidArgument,
      fields: ["image.architecture"],
    });
    expect(await failure(compute.createImage({ image: image({ status: 9 }) }))).toMatchObject({
      code: Code.InvalidArgument,
      fields: ["image.status"],
    });
    expect(await failure(compute.createImage({ image: image({ name: "" }) }))).toMatchObject({ code: Code.InvalidArgument });
    expect(await failure(compute.createImage({ image: image({ osFamily: "x".repeat(33) }) }))).toMatchObject({
      fields: ["image.os_family"],
    });
  });

  it("updates name, os_family, os_version, status and description; not the architecture", async () => {
    const { compute } = admin();
    const created = await newImage();
    const { image: updated } = await compute.updateImage({
      image: { id: created.id, etag: created.etag, osVersion: "24.04.1", status: ImageStatus.DEPRECATED, architecture: Architecture.ARM64 },
      updateMask: { paths: ["os_version", "status"] },
    });
    expect(updated).toMatchObject({ osVersion: "24.04.1", status: ImageStatus.DEPRECATED, architecture: Architecture.X86_64, etag: '"2"' });
    expect(
      await failure(
        compute.updateImage({ image: { id: created.id, architecture: Architecture.ARM64 }, updateMask: { paths: ["architecture"] } }),
      ),
    ).toMatchObject({
      reason: "INVALID_UPDATE_MASK",
    });
    expect(
      await failure(compute.updateImage({ image: { id: created.id, status: ImageStatus.UNSPECIFIED }, updateMask: { paths: ["status"] } })),
    ).toMatchObject({
      reason: "VALIDATION_FAILED",
      fields: ["image.status"],
    });
  });

  it("filters on name, os_family, os_version, architecture and status", async () => {
    const { compute } = admin();
    const family = unique("rocky");
    const a = await newImage({ osFamily: family, osVersion: "9.4" });
    const b = await newImage({ osFamily: family, osVersion: "9.5", architecture: Architecture.ARM64 });
    const c = await newImage({ osFamily: family, osVersion: "10.0", status: ImageStatus.DEPRECATED });
    const names = async (filter: string) =>
      (await compute.listImages({ filter: `os_family = "${family}" AND (${filter})` })).images.map((i) => i.name);
    expect(await names("architecture = ARM64")).toEqual([b.name]);
    expect(await names("architecture = ARCHITECTURE_X86_64")).toEqual([a.name, c.name]);
    expect(await names("status = IMAGE_STATUS_DEPRECATED")).toEqual([c.name]);
    expect(await names("status != DEPRECATED")).toEqual([a.name, b.name]);
    expect(await names('os_version = "9.*"')).toEqual([a.name, b.name]);
    expect(await names(`name = "${c.name}"`)).toEqual([c.name]);
    expect(await failure(compute.listImages({ filter: "architecture = SPARC" }))).toMatchObject({ reason: "INVALID_FILTER" });
  });
});

describe("deleting catalogue entries", () => {
  /** A VM row written straight into the table, as placement would (the VM use cases are another
   * module): it only has to reference the specification and the image. */
  async function insertVirtualMachine(specificationId: string, imageId: string, state: string) {
    const { tenants, inventory } = admin();
    const tenantId = (await tenants.createTenant({ tenant: { name: unique("vm-owner") } })).tenant!.id;
    const { region } = await inventory.createRegion({ region: { name: unique("region") } });
    const { datacenter } = await inventory.createDatacenter({ datacenter: { name: unique("dc"), regionId: region!.id } });
    const { room } = await inventory.createRoom({ room: { name: unique("room"), datacenterId: datacenter!.id } });
    const { rack } = await inventory.createRack({ rack: { name: unique("rack"), roomId: room!.id, heightUnits: 4 } });
    const { group } = await inventory.createBaremetalGroup({ group: { name: unique("group") } });
    const { baremetal } = await inventory.createBaremetal({
      baremetal: {
        name: unique("host"),
        serialNumber: unique("SN"),
        capacity: { cpuCores: 32, memoryMib: 131072n, storageGib: 2000n },
        placement: { rackId: rack!.id, firstPosition: 1, heightUnits: 1 },
        groupId: group!.id,
      },
    });
    const id = randomUUID();
    await t.server.db.em().execute(
      `insert into virtual_machine (id, version, create_time, update_time, name, tenant_id, specification_id, image_id, cpu_cores, memory_mib, storage_gib,
                                    group_id, baremetal_id, state, state_change_time)
       values (?, 1, now(), now(), ?, ?, ?, ?, 4, 16384, 100, ?, ?, ?, now())`,
      [id, unique("vm"), tenantId, specificationId, imageId, group!.id, baremetal!.id, state],
    );
    return id;
  }

  const setState = (id: string, state: string) =>
    t.server.db.em().execute("update virtual_machine set state = ? where id = ?", [state, id]);
  const removeRow = (id: string) => t.server.db.em().execute("delete from virtual_machine where id = ?", [id]);

  it("deletes unused entries, checking the etag", async () => {
    const { compute } = admin();
    const s = await newSpec();
    expect(await failure(compute.deleteVirtualMachineSpecification({ id: s.id, etag: '"9"' }))).toMatchObject({
      code: Code.Aborted,
      reason: "ETAG_MISMATCH",
    });
    await compute.deleteVirtualMachineSpecification({ id: s.id, etag: s.etag });
    expect(await failure(compute.getVirtualMachineSpecification({ id: s.id }))).toMatchObject({
      code: Code.NotFound,
      reason: "RESOURCE_NOT_FOUND",
    });
    const i = await newImage();
    await compute.deleteImage({ id: i.id });
    expect(await failure(compute.getImage({ id: i.id }))).toMatchObject({ code: Code.NotFound });
    expect(await failure(compute.deleteImage({ id: i.id }))).toMatchObject({ code: Code.NotFound });
  });

  it("refuses while a VM uses the specification or the image (HAS_DEPENDENTS), and says why while only deleted VMs name it", async () => {
    const { compute } = admin();
    const s = await newSpec();
    const i = await newImage();
    const vm = await insertVirtualMachine(s.id, i.id, "RUNNING");

    const bySpec = await failure(compute.deleteVirtualMachineSpecification({ id: s.id }));
    expect(bySpec).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "HAS_DEPENDENTS",
      metadata: { resource_type: "virtual_machine_specification", resource_id: s.id, virtual_machines: "1", deleted_virtual_machines: "0" },
    });
    expect(bySpec.message).toContain(s.name);
    expect(await lastAudit("DeleteVirtualMachineSpecification", s.id)).toMatchObject({
      result: "FAILED_PRECONDITION",
      reason: "HAS_DEPENDENTS",
    });
    expect(await failure(compute.deleteImage({ id: i.id }))).toMatchObject({
      reason: "HAS_DEPENDENTS",
      metadata: { resource_type: "image", virtual_machines: "1" },
    });
    // Nothing was deleted.
    expect((await compute.getVirtualMachineSpecification({ id: s.id })).specification).toEqual(s);
    expect((await compute.getImage({ id: i.id })).image).toEqual(i);

    // Every state but DELETED holds the entry.
    for (const state of ["PENDING", "STOPPED", "DELETING", "ERROR"]) {
      await setState(vm, state);
      expect(await failure(compute.deleteVirtualMachineSpecification({ id: s.id })), state).toMatchObject({
        metadata: { virtual_machines: "1" },
      });
    }

    // A deleted VM's record still references it (a foreign key): the refusal says so, instead of a
    // conflict on the key, and points at deprecating.
    await setState(vm, "DELETED");
    const kept = await failure(compute.deleteVirtualMachineSpecification({ id: s.id }));
    expect(kept).toMatchObject({ reason: "HAS_DEPENDENTS", metadata: { virtual_machines: "0", deleted_virtual_machines: "1" } });
    expect(kept.message).toContain("deprecated");

    await removeRow(vm);
    await compute.deleteVirtualMachineSpecification({ id: s.id });
    await compute.deleteImage({ id: i.id });
  });
});

describe("who may do what", () => {
  it("lets every principal but agents read, and only platform admins write", async () => {
    const tenantId = await t.tenant(unique("reader"));
    const member = as(await t.token(Role.TENANT_MEMBER, "member", tenantId));
    const service = as(await t.token(Role.SERVICE, "vm-service"));
    const agent = as(await t.token(Role.AGENT, "agent"));
    const s = await newSpec();
    const i = await newImage();

    for (const reader of [member, service]) {
      expect((await reader.compute.getVirtualMachineSpecification({ id: s.id })).specification?.id).toBe(s.id);
      expect((await reader.compute.listImages({ filter: `name = "${i.name}"` })).images.map((x) => x.id)).toEqual([i.id]);
      expect(await failure(reader.compute.createVirtualMachineSpecification({ specification: spec() }))).toMatchObject({
        code: Code.PermissionDenied,
        reason: "ROLE_NOT_ALLOWED",
      });
      expect(
        await failure(reader.compute.updateImage({ image: { id: i.id, description: "x" }, updateMask: { paths: ["description"] } })),
      ).toMatchObject({
        code: Code.PermissionDenied,
      });
      expect(await failure(reader.compute.deleteVirtualMachineSpecification({ id: s.id }))).toMatchObject({ code: Code.PermissionDenied });
    }
    expect(await failure(agent.compute.getVirtualMachineSpecification({ id: s.id }))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "ROLE_NOT_ALLOWED",
    });
    expect(await failure(agent.compute.listImages({}))).toMatchObject({ code: Code.PermissionDenied });
    // The refused write is audited with its target.
    expect(await lastAudit("DeleteVirtualMachineSpecification", s.id)).toMatchObject({
      result: "PERMISSION_DENIED",
      principal: "vm-service",
    });
  });
});
