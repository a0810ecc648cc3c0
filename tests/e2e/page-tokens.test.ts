// Page tokens end to end: every List pages through all its rows with one token format, and a token
// is honoured only by the List, filter and caller it was issued for. Each List gets at least two rows
// here, so a page of one has a next_page_token.
import { randomUUID } from "node:crypto";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { CustomFieldType } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { type Maintainer, type MaintainerGroup, MaintainerRole, MaintainerService } from "../../gen/es/rackplane/v1/maintainer_pb.js";
import { buildCloud, tenantsWithQuota, type Cloud } from "../support/compute.js";
import { failure } from "../support/failure.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;
let cloud: Cloud;
let lists: ListCase[];
let tenantVms: (secret: string) => ListCase;
let tenantSecrets: string[];

interface Page {
  readonly ids: string[];
  readonly next: string;
}

interface ListCase {
  readonly name: string;
  /** A filter this List accepts that keeps at least two rows; undefined: the List takes no filter. */
  readonly filter?: string;
  call(request: { pageToken: string; pageSize: number; filter: string }): Promise<Page>;
}

const ids = (items: ReadonlyArray<{ id: string }>) => items.map((item) => item.id);

beforeAll(async () => {
  t = await startTestServer();
  cloud = await buildCloud(t, { name: "pt", hosts: 2 });
  const { inventory, identity, audit, tenants } = t.clients();
  const compute = t.compute();
  const operations = t.operations();
  const transport = createGrpcTransport({
    baseUrl: t.url,
    interceptors: [bearer(t.adminToken)],
  });
  const maintainers = createClient(MaintainerService, transport);

  // A second of everything buildCloud made one of, and two of what it did not.
  const { region } = await inventory.createRegion({ region: { name: "pt-r2" } });
  const { datacenter } = await inventory.createDatacenter({ datacenter: { name: "pt-dc2", regionId: region!.id } });
  const { room } = await inventory.createRoom({ room: { name: "pt-room2", datacenterId: datacenter!.id } });
  const { rack } = await inventory.createRack({ rack: { name: "pt-rack2", roomId: room!.id, heightUnits: 42 } });
  for (const name of ["pt-s1", "pt-s2"]) await inventory.createSlotGroup({ slotGroup: { name } });
  await inventory.createBaremetalGroup({ group: { name: "pt-group2" } });
  for (const name of ["pt_a", "pt_b"]) {
    await inventory.createCustomFieldDefinition({ definition: { name, type: CustomFieldType.STRING, resourceTypes: ["rack"] } });
  }
  await tenantsWithQuota(t, cloud, "pt-more", 1, 100n);
  await compute.createVirtualMachineSpecification({ specification: { name: "pt-spec2", vcpu: 1, memoryMib: 1024n, storageGib: 10n } });
  await compute.createImage({ image: { name: "pt-img2", osFamily: "debian", osVersion: "13", architecture: 1 } });
  for (let i = 0; i < 2; i++) {
    await compute.createVirtualMachine({
      tenantId: cloud.tenantId,
      target: { case: "groupId", value: cloud.groupId },
      specificationId: cloud.specificationId,
      imageId: cloud.imageId,
    });
  }
  const people: Maintainer[] = [];
  for (const account of ["pt-m1", "pt-m2"])
    people.push((await maintainers.createMaintainer({ maintainer: { name: "pt person", account } })).maintainer!);
  const groups: MaintainerGroup[] = [];
  for (const name of ["pt-g1", "pt-g2"])
    groups.push((await maintainers.createMaintainerGroup({ group: { name, managerId: people[0]!.id } })).group!);
  for (const person of people) await maintainers.addGroupMember({ groupId: groups[0]!.id, maintainerId: person.id });
  for (const rackId of [cloud.rackId, rack!.id]) {
    await maintainers.createResourceMaintainer({
      resourceMaintainer: {
        resource: { type: "rack", id: rackId },
        assignee: { case: "maintainerId", value: people[0]!.id },
        role: MaintainerRole.OWNER,
      },
    });
  }
  await maintainers.createResourceMaintainer({
    resourceMaintainer: {
      resource: { type: "rack", id: cloud.rackId },
      assignee: { case: "groupId", value: groups[0]!.id },
      role: MaintainerRole.OWNER,
    },
  });
  tenantSecrets = [
    await t.token(Role.TENANT_MEMBER, "pt-member", cloud.tenantId),
    await t.token(Role.TENANT_MEMBER, "pt-other", cloud.tenantId),
  ];
  const agentToken = await t.token(Role.AGENT, "pt-agent");
  // Two agents in the registry: each opens its stream once; the row stays when the stream ends.
  const streams = ["pt-agent-1", "pt-agent-2"].map((agentId) => {
    const controller = new AbortController();
    const stream = t
      .agents(agentToken)
      .streamJobs({ agentId, maxConcurrentJobs: 1, scope: { groupIds: [region!.id] } }, { signal: controller.signal });
    const done = (async () => {
      try {
        for await (const _ of stream);
      } catch {
        // ended by the test
      }
    })();
    return { controller, done };
  });
  while ((await t.agentsAdmin().listAgents({})).agents.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
  for (const stream of streams) stream.controller.abort();
  await Promise.all(streams.map((stream) => stream.done));

  tenantVms = (secret: string) => ({
    name: "ListVirtualMachines as a tenant member",
    filter: `tenant_id = "${cloud.tenantId}"`,
    call: async (r) => {
      const page = await t.compute(secret).listVirtualMachines(r);
      return { ids: ids(page.virtualMachines), next: page.nextPageToken };
    },
  });
  lists = [
    { name: "ListRegions", filter: 'name = "pt*"', call: async (r) => pageOf(await inventory.listRegions(r), "regions") },
    { name: "ListDatacenters", filter: 'name = "pt*"', call: async (r) => pageOf(await inventory.listDatacenters(r), "datacenters") },
    { name: "ListRooms", filter: 'name = "pt*"', call: async (r) => pageOf(await inventory.listRooms(r), "rooms") },
    { name: "ListRacks", filter: 'name = "pt*"', call: async (r) => pageOf(await inventory.listRacks(r), "racks") },
    { name: "ListSlotGroups", filter: 'name = "pt*"', call: async (r) => pageOf(await inventory.listSlotGroups(r), "slotGroups") },
    { name: "ListBaremetals", filter: 'name = "pt*"', call: async (r) => pageOf(await inventory.listBaremetals(r), "baremetals") },
    { name: "ListBaremetalGroups", filter: 'name = "pt*"', call: async (r) => pageOf(await inventory.listBaremetalGroups(r), "groups") },
    {
      name: "ListCustomFieldDefinitions",
      call: async (r) =>
        pageOf(await inventory.listCustomFieldDefinitions({ pageSize: r.pageSize, pageToken: r.pageToken }), "definitions"),
    },
    { name: "ListTenants", filter: 'name = "pt*"', call: async (r) => pageOf(await tenants.listTenants(r), "tenants") },
    {
      name: "ListBaremetalGroupTenantQuotas",
      filter: `group_id = "${cloud.groupId}"`,
      call: async (r) => pageOf(await tenants.listBaremetalGroupTenantQuotas(r), "quotas"),
    },
    {
      name: "ListVirtualMachineSpecifications",
      filter: 'name = "pt*"',
      call: async (r) => pageOf(await compute.listVirtualMachineSpecifications(r), "specifications"),
    },
    { name: "ListImages", filter: 'name = "pt*"', call: async (r) => pageOf(await compute.listImages(r), "images") },
    {
      name: "ListVirtualMachines",
      filter: `tenant_id = "${cloud.tenantId}"`,
      call: async (r) => pageOf(await compute.listVirtualMachines(r), "virtualMachines"),
    },
    {
      name: "ListSchedulingRecords",
      filter: `group_id = "${cloud.groupId}"`,
      call: async (r) => pageOf(await compute.listSchedulingRecords(r), "schedulingRecords"),
    },
    {
      name: "ListOperations",
      filter: 'resource_type = "virtual_machine"',
      call: async (r) => pageOf(await operations.listOperations(r), "operations"),
    },
    { name: "ListTokens", filter: 'principal = "pt*"', call: async (r) => pageOf(await identity.listTokens(r), "tokens") },
    { name: "ListAuditEvents", filter: 'principal = "admin"', call: async (r) => pageOf(await audit.listAuditEvents(r), "auditEvents") },
    {
      name: "ListAgents",
      call: async (r) => {
        const page = await t.agentsAdmin().listAgents({ pageSize: r.pageSize, pageToken: r.pageToken });
        return { ids: ids(page.agents), next: page.nextPageToken };
      },
    },
    { name: "ListMaintainers", filter: 'account = "pt*"', call: async (r) => pageOf(await maintainers.listMaintainers(r), "maintainers") },
    {
      name: "ListMaintainerGroups",
      filter: 'name = "pt*"',
      call: async (r) => pageOf(await maintainers.listMaintainerGroups(r), "groups"),
    },
    {
      name: "ListGroupMembers",
      call: async (r) => {
        const page = await maintainers.listGroupMembers({ groupId: groups[0]!.id, pageSize: r.pageSize, pageToken: r.pageToken });
        return { ids: ids(page.maintainers), next: page.nextPageToken };
      },
    },
    {
      name: "ListResourceMaintainers",
      filter: "role = OWNER",
      call: async (r) => {
        const page = await maintainers.listResourceMaintainers({ resource: { type: "rack", id: cloud.rackId }, ...r });
        return { ids: page.maintainers.map((m) => `${m.assignment!.id}/${m.maintainer!.id}`), next: page.nextPageToken };
      },
    },
    {
      name: "ListMaintainerResources",
      filter: 'resource_type = "rack"',
      call: async (r) => {
        const page = await maintainers.listMaintainerResources({ owner: { case: "maintainerId", value: people[0]!.id }, ...r });
        return { ids: page.resources.map((m) => m.assignment!.id), next: page.nextPageToken };
      },
    },
  ];
}, 60_000);
afterAll(() => t?.close());

function pageOf<K extends string>(response: { nextPageToken: string } & Record<K, ReadonlyArray<{ id: string }>>, field: K): Page {
  return { ids: ids(response[field]), next: response.nextPageToken };
}

/** Every page of size one, following next_page_token to the end. */
async function allPages(list: ListCase, filter: string): Promise<string[]> {
  const seen: string[] = [];
  let pageToken = "";
  do {
    const page = await list.call({ pageToken, pageSize: 1, filter });
    seen.push(...page.ids);
    pageToken = page.next;
  } while (pageToken !== "" && seen.length < 10_000);
  return seen;
}

async function firstToken(list: ListCase, filter = ""): Promise<string> {
  const { next } = await list.call({ pageToken: "", pageSize: 1, filter });
  expect(next, `${list.name} has a second page`).not.toBe("");
  return next;
}

const refusal = { code: Code.InvalidArgument, reason: "INVALID_PAGE_TOKEN", fields: ["page_token"] };

describe("every List", () => {
  it("pages through all its rows, one at a time, in the order of a single page", async () => {
    for (const list of lists) {
      for (const filter of ["", ...(list.filter ? [list.filter] : [])]) {
        const whole = (await list.call({ pageToken: "", pageSize: 1000, filter })).ids;
        expect(whole.length, `${list.name} ${filter}`).toBeGreaterThanOrEqual(2);
        expect(await allPages(list, filter), `${list.name} ${filter}`).toEqual(whole);
      }
    }
  });

  it("refuses the tokens of every other List (INVALID_PAGE_TOKEN on page_token)", async () => {
    const tokens = await Promise.all(lists.map((list) => firstToken(list)));
    for (const [i, list] of lists.entries()) {
      for (const [j, token] of tokens.entries()) {
        if (i === j) continue;
        const refused = await failure(list.call({ pageToken: token, pageSize: 1, filter: "" }));
        expect(refused, `${lists[j]!.name}'s token on ${list.name}`).toMatchObject(refusal);
      }
    }
  });

  it("refuses its own token under another filter, and garbage", async () => {
    for (const list of lists) {
      const token = await firstToken(list);
      if (list.filter) {
        expect(await failure(list.call({ pageToken: token, pageSize: 1, filter: list.filter })), list.name).toMatchObject(refusal);
        const filtered = await firstToken(list, list.filter);
        expect(await failure(list.call({ pageToken: filtered, pageSize: 1, filter: "" })), list.name).toMatchObject(refusal);
      }
      for (const garbage of ["bm90IGEgdG9rZW4", "!!!", token.slice(0, -4), `${token}AA`]) {
        expect(await failure(list.call({ pageToken: garbage, pageSize: 1, filter: "" })), `${list.name} ${garbage}`).toMatchObject(refusal);
      }
    }
  });
});

describe("a page token", () => {
  it("cannot be edited: another id inside is refused", async () => {
    const racks = lists.find((list) => list.name === "ListRacks")!;
    const token = await firstToken(racks);
    const body = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    expect(body.k).toEqual([cloud.rackId]);
    const edited = Buffer.from(JSON.stringify({ ...body, k: [randomUUID()] })).toString("base64url");
    expect(await failure(racks.call({ pageToken: edited, pageSize: 1, filter: "" }))).toMatchObject(refusal);
  });

  it("belongs to its caller's scope: a tenant member's token is refused to the platform admin, and the reverse", async () => {
    const member = tenantVms(tenantSecrets[0]!);
    const admins = lists.find((list) => list.name === "ListVirtualMachines")!;
    const memberToken = await firstToken(member);
    expect(await failure(admins.call({ pageToken: memberToken, pageSize: 1, filter: "" }))).toMatchObject(refusal);
    expect(await failure(member.call({ pageToken: await firstToken(admins), pageSize: 1, filter: "" }))).toMatchObject(refusal);
    // Another principal of the same tenant sees the same rows: its token works there.
    expect((await tenantVms(tenantSecrets[1]!).call({ pageToken: memberToken, pageSize: 1, filter: "" })).ids).toHaveLength(1);
  });
});
