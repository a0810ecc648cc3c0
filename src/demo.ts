// `npm start -- --demo`: a realistic small cloud on an empty database — 2 regions, 3 datacenters,
// 6 rooms, 60 racks with ASNs, 1,200 hosts in 8 groups, 10 tenants with quotas and naming rules,
// 20 maintainers in 5 groups with assignments, and a VM catalogue. Everything goes through the use
// cases, so it is validated and audited like any operator's work (principal "demo"). Loading it
// again changes nothing: it is recognised by its first region.
import { randomUUID } from "node:crypto";
import type { CallContext } from "./app/context.js";
import type { Database } from "./app/database.js";
import { images, specifications } from "./app/compute/catalogue.js";
import { batchCreateBaremetals, type BaremetalFields } from "./app/hosts/baremetals.js";
import { createBaremetalGroup } from "./app/hosts/groups.js";
import { datacenters } from "./app/inventory/datacenters.js";
import { createRack } from "./app/inventory/racks.js";
import { regions } from "./app/inventory/regions.js";
import { rooms } from "./app/inventory/rooms.js";
import { createResourceMaintainer, type Assignee } from "./app/maintainers/assignments.js";
import { createMaintainerGroup, addGroupMember } from "./app/maintainers/groups.js";
import { maintainers } from "./app/maintainers/maintainers.js";
import { createQuota } from "./app/tenants/quotas.js";
import { createTenant } from "./app/tenants/tenants.js";
import { defaultSchedulingPolicy } from "./domain/placement.js";
import { issue } from "./app/identity.js";
import { newSecret } from "./domain/token.js";
import type { MaintainerRole } from "./domain/maintainer.js";
import { defaultClusterHealthSettings } from "./app/kubernetes/addons/cluster-health.js";
import { createCluster } from "./app/kubernetes/clusters.js";
import type { SecretBox } from "./app/kubernetes/secret-box.js";
import { createVersion } from "./app/kubernetes/versions.js";

const marker = "eu-central";

function demoContext(): CallContext {
  return {
    principal: { name: "demo", role: "PLATFORM_ADMIN", tenantId: undefined, tokenId: "" },
    requestId: randomUUID(),
    method: "demo/load",
    audit: { resourceType: "", resourceId: "", written: false },
  };
}

/** Returns false when the demo was already there. */
export async function loadDemo(db: Database): Promise<boolean> {
  const [existing] = await db.em().execute<{ id: string }[]>("select id from region where name = ?", [marker]);
  if (existing) return false;
  const ctx = demoContext;

  const demoRegions = [
    await regions.create(db, ctx(), { name: marker, description: "Frankfurt and Amsterdam" }, ""),
    await regions.create(db, ctx(), { name: "ap-east", description: "Hong Kong" }, ""),
  ];
  const sites = [
    { name: "fra1", region: demoRegions[0]!, city: "Frankfurt", countryCode: "DE", latitude: 50.11, longitude: 8.68 },
    { name: "ams1", region: demoRegions[0]!, city: "Amsterdam", countryCode: "NL", latitude: 52.37, longitude: 4.9 },
    { name: "hkg1", region: demoRegions[1]!, city: "Hong Kong", countryCode: "HK", latitude: 22.32, longitude: 114.17 },
  ];
  const groupSpecs = [
    { name: "general-compute", dimension: "PURPOSE", ratio: 4 },
    { name: "gpu", dimension: "PURPOSE", ratio: 1 },
    { name: "storage", dimension: "PURPOSE", ratio: 2 },
    { name: "databases", dimension: "LOAD", ratio: 1 },
    { name: "k8s-control", dimension: "PURPOSE", ratio: 2 },
    { name: "k8s-workers", dimension: "PURPOSE", ratio: 4 },
    { name: "batch", dimension: "LOAD", ratio: 8 },
    { name: "asia-edge", dimension: "REGION", ratio: 4 },
  ] as const;
  const groups: Array<{ id: string; name: string }> = [];
  for (const spec of groupSpecs) {
    groups.push(
      await createBaremetalGroup(
        db,
        ctx(),
        {
          name: spec.name,
          description: `${spec.name} hosts`,
          dimension: spec.dimension,
          scheduling: {
            ...defaultSchedulingPolicy,
            cpuAllocationRatio: spec.ratio,
            reservedPerHost: { cpuCores: 2, memoryMib: 8192, storageGib: 50 },
            placementPolicy: spec.name === "batch" ? "PACK" : "SPREAD",
          },
        },
        "",
      ),
    );
  }

  const racks = [];
  let asn = 65000;
  for (const site of sites) {
    const { city, countryCode, latitude, longitude } = site;
    const datacenter = await datacenters.create(
      db,
      ctx(),
      { regionId: site.region.id, name: site.name, description: `${city} campus`, address: "", city, countryCode, latitude, longitude },
      "",
    );
    for (const hall of ["hall-a", "hall-b"]) {
      const room = await rooms.create(db, ctx(), { datacenterId: datacenter.id, name: hall, description: `${site.name} ${hall}` }, "");
      for (let r = 1; r <= 10; r++) {
        const rackName = `${site.name}-${hall.slice(-1)}${String(r).padStart(2, "0")}`;
        racks.push(
          await createRack(
            db,
            ctx(),
            {
              name: rackName,
              roomId: room.id,
              status: "ACTIVE",
              heightUnits: 42,
              asn: asn++,
              torSwitches: [`${rackName}-tor1`, `${rackName}-tor2`],
              subnets: [`10.${sites.indexOf(site)}.${racks.length % 256}.0/24`],
              managementVlan: 100 + r,
              allowedTenantIds: [],
              description: "",
            },
            "",
          ),
        );
      }
    }
  }

  // 20 hosts of 2U per rack; a rack's hosts share a group (Asian racks form the edge group).
  const hosts: BaremetalFields[] = [];
  racks.forEach((rack, r) => {
    const group = rack.regionId === demoRegions[1]!.id ? groups[7]! : groups[r % 7]!;
    const gpu = group.name === "gpu";
    for (let h = 0; h < 20; h++) {
      hosts.push({
        name: `${rack.name}-h${String(h + 1).padStart(2, "0")}`,
        serialNumber: `DEMO${String(r).padStart(3, "0")}${String(h).padStart(2, "0")}`,
        capacity: { cpuCores: gpu ? 96 : 64, memoryMib: gpu ? 1048576 : 524288, storageGib: group.name === "storage" ? 96000 : 7680 },
        groupId: group.id,
        placement: { rackId: rack.id, firstPosition: 1 + h * 2, heightUnits: 2, reservationId: null },
        customFields: {},
        description: "",
      });
    }
  });
  for (let i = 0; i < hosts.length; i += 600) await batchCreateBaremetals(db, ctx(), hosts.slice(i, i + 600));

  const tenantNames = ["payments", "search", "ml-platform", "data-lake", "web", "identity", "analytics", "mobile", "acme-corp", "globex"];
  const tenants = [];
  for (const [i, name] of tenantNames.entries()) {
    tenants.push(
      await createTenant(
        db,
        ctx(),
        {
          name,
          description: `${name} team`,
          kind: i >= 8 ? "EXTERNAL_CUSTOMER" : i % 2 ? "DEPARTMENT" : "PROJECT",
          contactName: `${name} on-call`,
          contactEmail: `${name}@example.com`,
          contactPhone: "",
          namingTemplate: "{tenant}-{role}-{seq:03}",
          namingPattern: "",
        },
        "",
      ),
    );
  }
  for (const [i, tenant] of tenants.entries()) {
    for (const group of [groups[0]!, groups[(i % 6) + 1]!]) {
      await createQuota(db, ctx(), {
        tenantId: tenant.id,
        groupId: group.id,
        limits: { cpuCores: { percent: 10 }, memoryMib: { percent: 10 }, storageGib: { absolute: 20000 } },
      });
    }
  }

  await specifications.create(
    db,
    ctx(),
    { name: "s1.small", vcpu: 2, memoryMib: 4096, storageGib: 40, generation: "gen3", deprecated: false, description: "" },
    "",
  );
  await specifications.create(
    db,
    ctx(),
    { name: "s1.medium", vcpu: 4, memoryMib: 16384, storageGib: 100, generation: "gen3", deprecated: false, description: "" },
    "",
  );
  await specifications.create(
    db,
    ctx(),
    { name: "s1.large", vcpu: 16, memoryMib: 65536, storageGib: 200, generation: "gen3", deprecated: false, description: "" },
    "",
  );
  await specifications.create(
    db,
    ctx(),
    {
      name: "s0.small",
      vcpu: 2,
      memoryMib: 2048,
      storageGib: 20,
      generation: "gen2",
      deprecated: true,
      description: "previous generation",
    },
    "",
  );
  await images.create(
    db,
    ctx(),
    { name: "ubuntu-24.04", osFamily: "ubuntu", osVersion: "24.04", architecture: "X86_64", status: "ACTIVE", description: "" },
    "",
  );
  await images.create(
    db,
    ctx(),
    { name: "rocky-9", osFamily: "rocky", osVersion: "9", architecture: "X86_64", status: "ACTIVE", description: "" },
    "",
  );
  await images.create(
    db,
    ctx(),
    { name: "debian-12-arm64", osFamily: "debian", osVersion: "12", architecture: "ARM64", status: "ACTIVE", description: "" },
    "",
  );

  const people = [];
  for (let m = 1; m <= 20; m++) {
    people.push(
      await maintainers.create(
        db,
        ctx(),
        {
          name: `Maintainer ${m}`,
          account: `ops${String(m).padStart(2, "0")}`,
          email: `ops${m}@example.com`,
          phone: "",
          chat: `@ops${m}`,
          status: m === 20 ? "INACTIVE" : "ACTIVE",
        },
        "",
      ),
    );
  }
  const teams = ["dc-fra", "dc-ams", "dc-hkg", "compute", "network"];
  const maintainerGroups = [];
  for (const [t, team] of teams.entries()) {
    const members = people.slice(t * 4, t * 4 + 4);
    const group = await createMaintainerGroup(db, ctx(), { name: team, description: `${team} team`, managerId: members[0]!.id }, "");
    for (const member of members.slice(1)) await addGroupMember(db, ctx(), group.id, member.id);
    maintainerGroups.push(group);
  }
  const assign = (type: string, id: string, assignee: Assignee, role: MaintainerRole) =>
    createResourceMaintainer(db, ctx(), { resource: { type, id }, assignee, role }, "");
  for (const [r, rack] of racks.entries()) {
    await assign("rack", rack.id, { groupId: maintainerGroups[Math.floor(r / 20)]!.id }, "OWNER");
    await assign("rack", rack.id, { maintainerId: people[r % 19]!.id }, "ON_CALL");
  }
  for (const [g, group] of groups.entries())
    await assign("baremetal_group", group.id, { groupId: maintainerGroups[3 + (g % 2)]!.id }, "OWNER");
  return true;
}

/**
 * The demo's Kubernetes cluster, loaded with the demo (once): "storefront" of tenant "web" on
 * 1.31.4 — one control-plane node in k8s-control, a pool of two workers in k8s-workers — created
 * through the same use case as any tenant's, so the demo's simulated agent builds it and it is
 * ACTIVE seconds after start. 1.32.0 is in the catalogue too, to try an upgrade.
 */
export async function loadDemoCluster(db: Database, secrets: SecretBox): Promise<void> {
  const ctx = demoContext;
  await createVersion(db, ctx(), { kubernetesVersion: "1.31.4", status: "SUPPORTED", description: "" }, "");
  await createVersion(db, ctx(), { kubernetesVersion: "1.32.0", status: "SUPPORTED", description: "" }, "");
  const ids = async (sql: string, name: string) => (await db.em().execute<{ id: string }[]>(sql, [name]))[0]!.id;
  const tenantId = await ids("select id from tenant where name = ?", "web");
  const controlGroup = await ids("select id from baremetal_group where name = ?", "k8s-control");
  const workerGroup = await ids("select id from baremetal_group where name = ?", "k8s-workers");
  const specificationId = await ids("select id from virtual_machine_specification where name = ?", "s1.medium");
  const imageId = await ids("select id from image where name = ?", "ubuntu-24.04");
  // The demo's quotas give "web" the workers' group; its control plane needs the other.
  await createQuota(db, ctx(), {
    tenantId,
    groupId: controlGroup,
    limits: { cpuCores: { percent: 10 }, memoryMib: { percent: 10 }, storageGib: { absolute: 20000 } },
  });
  await createCluster(
    db,
    ctx(),
    secrets,
    {
      name: "storefront",
      description: "the demo's cluster",
      tenantId,
      templateId: null,
      draft: {
        version: "1.31.4",
        controlPlane: { count: 1, groupId: controlGroup, specificationId, imageId },
        nodePools: [{ name: "workers", nodeCount: 2, groupId: workerGroup, specificationId, imageId }],
      },
    },
    "",
    // The view it returns (a new cluster: no health report yet) is not read.
    defaultClusterHealthSettings,
  );
}

/** A fresh agent token for the demo's in-process simulated agent (the secret never leaves the
 * process; earlier ones from previous starts are revoked). */
export async function demoAgentToken(db: Database): Promise<string> {
  const secret = newSecret();
  await db.em().transactional(async (em) => {
    await em.execute("update api_token set revoke_time = now() where principal = 'demo-simulator' and revoke_time is null");
    issue(
      em,
      "demo",
      { principal: "demo-simulator", role: "AGENT", tenantId: null, description: "the demo's simulated agent", ttlMillis: null },
      secret,
    );
  });
  return secret;
}
