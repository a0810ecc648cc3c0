// MaintainerService end to end (MNT-1..4): a real server over a real PostgreSQL database, called
// through the connect-node gRPC client. Every test builds its own maintainers, groups and inventory
// (unique names), so tests do not depend on each other's data.
import { randomUUID } from "node:crypto";
import { createClient, Code, ConnectError, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import {
  MaintainerRole,
  MaintainerService,
  MaintainerStatus,
  type MaintainedResource,
  type Maintainer,
  type MaintainerGroup,
  type ResponsibleMaintainer,
} from "../../gen/es/rackplane/v1/maintainer_pb.js";
import { failure } from "../support/failure.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;
let inventory: ReturnType<TestServer["clients"]>["inventory"];
let mnt: Client<typeof MaintainerService>;

function maintainerClient(token: string): Client<typeof MaintainerService> {
  const transport = createGrpcTransport({
    baseUrl: t.url,
    interceptors: [bearer(token)],
  });
  return createClient(MaintainerService, transport);
}

beforeAll(async () => {
  t = await startTestServer();
  inventory = t.clients().inventory;
  mnt = maintainerClient(t.adminToken);
});
afterAll(() => t?.close());

// ---------------------------------------------------------------------------------------------
// Helpers

let counter = 0;
/** A name no other test uses. */
const unique = (prefix: string) => `${prefix}-${++counter}`;

/** Awaits a call that must fail and returns its status code and ErrorInfo. */

async function newMaintainer(
  prefix = "m",
  fields: Partial<Pick<Maintainer, "email" | "phone" | "chat" | "status">> = {},
): Promise<Maintainer> {
  const account = unique(prefix);
  const { maintainer } = await mnt.createMaintainer({ maintainer: { name: `Person ${account}`, account, ...fields } });
  return maintainer!;
}

async function newGroup(managerId: string, prefix = "g"): Promise<MaintainerGroup> {
  const { group } = await mnt.createMaintainerGroup({ group: { name: unique(prefix), managerId } });
  return group!;
}

/** A region, a datacenter and a room, freshly made. */
async function tree(prefix = "t") {
  const { region } = await inventory.createRegion({ region: { name: unique(`${prefix}-region`) } });
  const { datacenter } = await inventory.createDatacenter({ datacenter: { name: unique(`${prefix}-dc`), regionId: region!.id } });
  const { room } = await inventory.createRoom({ room: { name: unique(`${prefix}-room`), datacenterId: datacenter!.id } });
  return { region: region!, datacenter: datacenter!, room: room! };
}

async function newRack(roomId: string, allowedTenantIds: string[] = []) {
  const { rack } = await inventory.createRack({ rack: { name: unique("rack"), roomId, heightUnits: 4, allowedTenantIds } });
  return rack!;
}

type Assignee = { maintainerId: string } | { groupId: string };

async function assign(type: string, id: string, who: Assignee, role: MaintainerRole) {
  const assignee =
    "maintainerId" in who ? { case: "maintainerId" as const, value: who.maintainerId } : { case: "groupId" as const, value: who.groupId };
  const { resourceMaintainer } = await mnt.createResourceMaintainer({ resourceMaintainer: { resource: { type, id }, assignee, role } });
  return resourceMaintainer!;
}

/** Every page of ListResourceMaintainers. */
async function allResponsible(type: string, id: string, filter = "", pageSize = 100): Promise<ResponsibleMaintainer[]> {
  const found: ResponsibleMaintainer[] = [];
  let pageToken = "";
  do {
    const page = await mnt.listResourceMaintainers({ resource: { type, id }, filter, pageSize, pageToken });
    found.push(...page.maintainers);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return found;
}

/** Every page of ListMaintainerResources. */
async function allMaintained(owner: Assignee, filter = "", pageSize = 100): Promise<MaintainedResource[]> {
  const found: MaintainedResource[] = [];
  let pageToken = "";
  const ownerField =
    "maintainerId" in owner
      ? { case: "maintainerId" as const, value: owner.maintainerId }
      : { case: "groupId" as const, value: owner.groupId };
  do {
    const page = await mnt.listMaintainerResources({ owner: ownerField, filter, pageSize, pageToken });
    found.push(...page.resources);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return found;
}

/** "maintainer-account via group-name as ROLE" per row: compact and order-preserving. */
function who(rows: ResponsibleMaintainer[]): string[] {
  return rows.map(
    (row) =>
      `${row.maintainer!.account} ${row.viaGroupName ? `via ${row.viaGroupName}` : "direct"} ${MaintainerRole[row.assignment!.role]}`,
  );
}

/** "type:name via group as ROLE" per row. */
function what(rows: MaintainedResource[]): string[] {
  return rows.map(
    (row) =>
      `${row.resource!.type}:${row.resourceName} ${row.viaGroupName ? `via ${row.viaGroupName}` : "direct"} ${MaintainerRole[row.assignment!.role]}`,
  );
}

/** Assignment rows still stored for a resource, straight from the database. */
async function storedAssignments(resourceId: string): Promise<number> {
  const [row] = await t.server.db
    .em()
    .execute<{ n: number }[]>(`select count(*)::int as n from resource_maintainer where resource_id = ?`, [resourceId]);
  return Number(row!.n);
}

async function storedMemberships(groupId: string): Promise<number> {
  const [row] = await t.server.db
    .em()
    .execute<{ n: number }[]>(`select count(*)::int as n from maintainer_group_member where group_id = ?`, [groupId]);
  return Number(row!.n);
}

async function groupMembers(groupId: string, pageSize = 100): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  do {
    const page = await mnt.listGroupMembers({ groupId, pageSize, pageToken });
    ids.push(...page.maintainers.map((m) => m.id));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return ids;
}

// ---------------------------------------------------------------------------------------------

describe("maintainers", () => {
  it("creates (status defaults to ACTIVE), gets, lists with filters, updates by update_mask and deletes a maintainer", async () => {
    const account = unique("alice");
    const { maintainer } = await mnt.createMaintainer({
      maintainer: { name: "Alice Chen", account, email: `${account}@example.com`, phone: "+886 2 1234", chat: "@alice" },
    });
    expect(maintainer).toMatchObject({
      name: "Alice Chen",
      account,
      email: `${account}@example.com`,
      phone: "+886 2 1234",
      chat: "@alice",
      status: MaintainerStatus.ACTIVE,
      etag: '"1"',
    });
    expect(maintainer!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(maintainer!.createTime).toBeDefined();
    expect((await mnt.getMaintainer({ id: maintainer!.id })).maintainer).toEqual(maintainer);

    // The account is unique.
    expect(await failure(mnt.createMaintainer({ maintainer: { name: "Other", account } }))).toMatchObject({
      code: Code.AlreadyExists,
      reason: "ALREADY_EXISTS",
    });
    // Name and account are required; the account has a pattern.
    expect(await failure(mnt.createMaintainer({ maintainer: { account: unique("x") } }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
    });
    expect(await failure(mnt.createMaintainer({ maintainer: { name: "x", account: "has space" } }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
    });

    const inactive = await newMaintainer("bob", { status: MaintainerStatus.INACTIVE, email: "bob@corp.example" });
    expect(inactive.status).toBe(MaintainerStatus.INACTIVE);

    const ids = async (filter: string) => (await mnt.listMaintainers({ filter, pageSize: 1000 })).maintainers.map((m) => m.id);
    expect(await ids(`account = "${account}"`)).toEqual([maintainer!.id]);
    expect(await ids(`name = "Alice Ch*" AND account = "${account}"`)).toEqual([maintainer!.id]);
    expect(await ids(`email:"${account}@EXAMPLE"`)).toEqual([maintainer!.id]);
    expect(await ids(`account = "${inactive.account}" AND status = MAINTAINER_STATUS_INACTIVE`)).toEqual([inactive.id]);
    expect(await ids(`account = "${inactive.account}" AND status = ACTIVE`)).toEqual([]);
    expect(await ids(`(account = "${account}" OR account = "${inactive.account}") AND create_time >= "2020-01-01T00:00:00Z"`)).toEqual([
      maintainer!.id,
      inactive.id,
    ]);
    expect(await ids(`account = "${account}" AND update_time < "2000-01-01T00:00:00Z"`)).toEqual([]);
    expect(await failure(mnt.listMaintainers({ filter: `role = OWNER` }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_FILTER",
    });
    expect(await failure(mnt.listMaintainers({ filter: `status = ON_CALL` }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_FILTER",
    });

    const { maintainer: updated } = await mnt.updateMaintainer({
      maintainer: { id: maintainer!.id, etag: maintainer!.etag, status: MaintainerStatus.INACTIVE, name: "ignored", chat: "@alice2" },
      updateMask: { paths: ["status", "chat"] },
    });
    expect(updated).toMatchObject({
      name: "Alice Chen",
      account,
      status: MaintainerStatus.INACTIVE,
      chat: "@alice2",
      phone: "+886 2 1234",
      etag: '"2"',
    });
    expect(
      await failure(
        mnt.updateMaintainer({ maintainer: { id: maintainer!.id, etag: maintainer!.etag, chat: "x" }, updateMask: { paths: ["chat"] } }),
      ),
    ).toMatchObject({
      code: Code.Aborted,
      reason: "ETAG_MISMATCH",
    });
    expect(await failure(mnt.updateMaintainer({ maintainer: { id: maintainer!.id }, updateMask: { paths: ["name"] } }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
    });
    expect(
      await failure(
        mnt.updateMaintainer({ maintainer: { id: maintainer!.id, account: inactive.account }, updateMask: { paths: ["account"] } }),
      ),
    ).toMatchObject({
      code: Code.AlreadyExists,
    });
    expect(await failure(mnt.updateMaintainer({ maintainer: { id: maintainer!.id }, updateMask: { paths: ["id"] } }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_UPDATE_MASK",
    });

    expect(await failure(mnt.deleteMaintainer({ id: maintainer!.id, etag: maintainer!.etag }))).toMatchObject({
      code: Code.Aborted,
      reason: "ETAG_MISMATCH",
    });
    await mnt.deleteMaintainer({ id: maintainer!.id, etag: updated!.etag });
    expect(await failure(mnt.getMaintainer({ id: maintainer!.id }))).toMatchObject({
      code: Code.NotFound,
      reason: "RESOURCE_NOT_FOUND",
      metadata: { resource_type: "maintainer", resource_id: maintainer!.id },
    });
    expect(await failure(mnt.deleteMaintainer({ id: maintainer!.id }))).toMatchObject({ code: Code.NotFound });
  });

  it("pages through maintainers in creation order, and a retried create with the same request_id answers the first result", async () => {
    const prefix = unique("pager");
    const created: string[] = [];
    for (let i = 0; i < 5; i++)
      created.push((await mnt.createMaintainer({ maintainer: { name: "P", account: `${prefix}-${i}` } })).maintainer!.id);
    const filter = `account = "${prefix}-*"`;
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await mnt.listMaintainers({ filter, pageSize: 2, pageToken });
      expect(page.maintainers.length).toBeLessThanOrEqual(2);
      seen.push(...page.maintainers.map((m) => m.id));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(seen).toEqual(created);
    expect(pages).toBe(3);

    const first = await mnt.listMaintainers({ filter, pageSize: 2 });
    expect(await failure(mnt.listMaintainers({ filter: `account = "${prefix}-1"`, pageToken: first.nextPageToken }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_PAGE_TOKEN",
    });

    const requestId = randomUUID();
    const account = unique("retry");
    const a = await mnt.createMaintainer({ maintainer: { name: "R", account }, requestId });
    const b = await mnt.createMaintainer({ maintainer: { name: "R", account }, requestId });
    expect(b.maintainer).toEqual(a.maintainer);
  });
});

describe("maintainer groups and membership", () => {
  it("creates a group whose manager must exist and becomes its first member; gets, lists, updates and deletes it", async () => {
    const manager = await newMaintainer("mgr");
    expect(await failure(mnt.createMaintainerGroup({ group: { name: unique("g"), managerId: randomUUID() } }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "maintainer" },
    });

    const name = unique("sre");
    const { group } = await mnt.createMaintainerGroup({
      group: { name, description: "site reliability", managerId: manager.id, memberCount: 99 },
    });
    expect(group).toMatchObject({ name, description: "site reliability", managerId: manager.id, memberCount: 1, etag: '"1"' });
    expect((await mnt.getMaintainerGroup({ id: group!.id })).group).toEqual(group);
    expect(await groupMembers(group!.id)).toEqual([manager.id]);

    expect(await failure(mnt.createMaintainerGroup({ group: { name, managerId: manager.id } }))).toMatchObject({
      code: Code.AlreadyExists,
      reason: "ALREADY_EXISTS",
    });
    // A failed create added no membership anywhere.
    expect(await storedMemberships(group!.id)).toBe(1);

    const other = await newGroup(manager.id);
    const listed = await mnt.listMaintainerGroups({ filter: `manager_id = "${manager.id}"` });
    expect(listed.groups.map((g) => [g.id, g.memberCount])).toEqual([
      [group!.id, 1],
      [other.id, 1],
    ]);
    expect((await mnt.listMaintainerGroups({ filter: `name = "${name}" AND description:"reliab"` })).groups).toEqual([group]);
    expect(await failure(mnt.listMaintainerGroups({ filter: `member_count > 1` }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_FILTER",
    });

    const { group: renamed } = await mnt.updateMaintainerGroup({
      group: { id: group!.id, etag: group!.etag, name: `${name}-x`, description: "ignored" },
      updateMask: { paths: ["name"] },
    });
    expect(renamed).toMatchObject({ name: `${name}-x`, description: "site reliability", memberCount: 1, etag: '"2"' });
    expect(
      await failure(mnt.updateMaintainerGroup({ group: { id: group!.id, memberCount: 3 }, updateMask: { paths: ["member_count"] } })),
    ).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_UPDATE_MASK",
    });
    expect(
      await failure(
        mnt.updateMaintainerGroup({ group: { id: group!.id, managerId: randomUUID() }, updateMask: { paths: ["manager_id"] } }),
      ),
    ).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "maintainer" },
    });

    await mnt.deleteMaintainerGroup({ id: group!.id, etag: renamed!.etag });
    expect(await failure(mnt.getMaintainerGroup({ id: group!.id }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "maintainer_group" },
    });
    expect(await storedMemberships(group!.id)).toBe(0);
    // The manager of a deleted group is free to go.
    await mnt.deleteMaintainerGroup({ id: other.id });
    await mnt.deleteMaintainer({ id: manager.id });
  });

  it("keeps the manager a member: cannot remove it, cannot delete a managing maintainer, a new manager joins automatically", async () => {
    const alice = await newMaintainer("alice");
    const bob = await newMaintainer("bob");
    const group = await newGroup(alice.id, "ops");
    const second = await newGroup(alice.id, "dba");

    expect(await failure(mnt.removeGroupMember({ groupId: group.id, maintainerId: alice.id }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "GROUP_MANAGER_REQUIRED",
      metadata: { group_ids: group.id },
    });
    const refused = await failure(mnt.deleteMaintainer({ id: alice.id }));
    expect(refused).toMatchObject({ code: Code.FailedPrecondition, reason: "GROUP_MANAGER_REQUIRED" });
    expect(refused.metadata.group_ids!.split(",").sort()).toEqual([group.id, second.id].sort());
    expect(refused.metadata.group_names!.split(",").sort()).toEqual([group.name, second.name].sort());
    expect((await mnt.getMaintainer({ id: alice.id })).maintainer!.id).toBe(alice.id);
    expect(await groupMembers(group.id)).toEqual([alice.id]);

    // Bob, not yet a member, becomes the manager and so a member.
    const { group: handed } = await mnt.updateMaintainerGroup({
      group: { id: group.id, managerId: bob.id },
      updateMask: { paths: ["manager_id"] },
    });
    expect(handed).toMatchObject({ managerId: bob.id, memberCount: 2 });
    expect((await groupMembers(group.id)).sort()).toEqual([alice.id, bob.id].sort());
    expect(await failure(mnt.removeGroupMember({ groupId: group.id, maintainerId: bob.id }))).toMatchObject({
      reason: "GROUP_MANAGER_REQUIRED",
    });

    // Alice still manages the second group.
    expect(await failure(mnt.deleteMaintainer({ id: alice.id }))).toMatchObject({
      reason: "GROUP_MANAGER_REQUIRED",
      metadata: { group_ids: second.id },
    });
    await mnt.updateMaintainerGroup({ group: { id: second.id, managerId: bob.id }, updateMask: { paths: ["manager_id"] } });

    // Now Alice may leave, and may be deleted; her memberships go with her.
    await mnt.addGroupMember({ groupId: second.id, maintainerId: alice.id });
    const { group: left } = await mnt.removeGroupMember({ groupId: group.id, maintainerId: alice.id });
    expect(left).toMatchObject({ memberCount: 1 });
    expect(await groupMembers(group.id)).toEqual([bob.id]);
    await mnt.deleteMaintainer({ id: alice.id });
    expect(await groupMembers(second.id)).toEqual([bob.id]);
    expect((await mnt.getMaintainerGroup({ id: second.id })).group!.memberCount).toBe(1);
  });

  it("holds many-to-many membership: one maintainer in many groups, adding twice is a no-op, members page by id", async () => {
    const [m1, m2, m3, m4] = [await newMaintainer("mm"), await newMaintainer("mm"), await newMaintainer("mm"), await newMaintainer("mm")];
    const g1 = await newGroup(m1!.id, "net");
    const g2 = await newGroup(m2!.id, "storage");

    const { group: added } = await mnt.addGroupMember({ groupId: g1.id, maintainerId: m3!.id });
    expect(added).toMatchObject({ id: g1.id, memberCount: 2 });
    expect(added!.etag).not.toBe(g1.etag);
    await mnt.addGroupMember({ groupId: g2.id, maintainerId: m3!.id });
    await mnt.addGroupMember({ groupId: g2.id, maintainerId: m1!.id });
    await mnt.addGroupMember({ groupId: g2.id, maintainerId: m4!.id });

    // Adding again changes nothing, not even the etag.
    const { group: again } = await mnt.addGroupMember({ groupId: g1.id, maintainerId: m3!.id });
    expect(again).toEqual(added);

    expect(await groupMembers(g1.id)).toEqual([m1!.id, m3!.id]);
    expect(await groupMembers(g2.id, 1)).toEqual([m1!.id, m2!.id, m3!.id, m4!.id]);
    const first = await mnt.listGroupMembers({ groupId: g2.id, pageSize: 3 });
    expect(first.maintainers.map((m) => m.id)).toEqual([m1!.id, m2!.id, m3!.id]);
    expect(first.maintainers[0]).toEqual(m1);
    const rest = await mnt.listGroupMembers({ groupId: g2.id, pageSize: 3, pageToken: first.nextPageToken });
    expect(rest).toMatchObject({ nextPageToken: "" });
    expect(rest.maintainers.map((m) => m.id)).toEqual([m4!.id]);
    expect(await failure(mnt.listGroupMembers({ groupId: g1.id, pageToken: first.nextPageToken }))).toMatchObject({
      reason: "INVALID_PAGE_TOKEN",
    });
    expect(await failure(mnt.listGroupMembers({ groupId: randomUUID() }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "maintainer_group" },
    });

    expect(await failure(mnt.addGroupMember({ groupId: g1.id, maintainerId: randomUUID() }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "maintainer" },
    });
    expect(await failure(mnt.addGroupMember({ groupId: randomUUID(), maintainerId: m1!.id }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "maintainer_group" },
    });
    expect(await failure(mnt.removeGroupMember({ groupId: g1.id, maintainerId: m4!.id }))).toMatchObject({
      code: Code.NotFound,
      reason: "RESOURCE_NOT_FOUND",
    });

    // Leaving one group keeps the other membership.
    await mnt.removeGroupMember({ groupId: g1.id, maintainerId: m3!.id });
    expect(await groupMembers(g1.id)).toEqual([m1!.id]);
    expect(await groupMembers(g2.id)).toContain(m3!.id);
    // Deleting a (non-managing) maintainer removes its memberships.
    await mnt.deleteMaintainer({ id: m4!.id });
    expect(await groupMembers(g2.id)).toEqual([m1!.id, m2!.id, m3!.id]);
    expect((await mnt.getMaintainerGroup({ id: g2.id })).group!.memberCount).toBe(3);
  });
});

describe("resource assignments and look-ups", () => {
  it("assigns a rack and a region to maintainers and a group, and looks them up both ways with the via-group path", async () => {
    const { region, room } = await tree("look");
    const rack = await newRack(room.id);
    const alice = await newMaintainer("alice");
    const bob = await newMaintainer("bob");
    const carol = await newMaintainer("carol");
    const ops = await newGroup(bob.id, "ops");
    await mnt.addGroupMember({ groupId: ops.id, maintainerId: carol.id });
    await mnt.addGroupMember({ groupId: ops.id, maintainerId: alice.id });

    const rackOwner = await assign("rack", rack.id, { maintainerId: alice.id }, MaintainerRole.OWNER);
    expect(rackOwner).toMatchObject({
      resource: { type: "rack", id: rack.id },
      assignee: { case: "maintainerId", value: alice.id },
      role: MaintainerRole.OWNER,
    });
    expect(rackOwner.createTime).toBeDefined();
    const rackOnCall = await assign("rack", rack.id, { groupId: ops.id }, MaintainerRole.ON_CALL);
    expect(rackOnCall.assignee).toEqual({ case: "groupId", value: ops.id });
    const regionOwner = await assign("region", region.id, { groupId: ops.id }, MaintainerRole.OWNER);
    const regionEscalation = await assign("region", region.id, { maintainerId: alice.id }, MaintainerRole.ESCALATION);

    // The same assignee and role twice is refused; another role is a new assignment.
    expect(await failure(assign("rack", rack.id, { maintainerId: alice.id }, MaintainerRole.OWNER))).toMatchObject({
      code: Code.AlreadyExists,
      reason: "ALREADY_EXISTS",
    });
    expect(await failure(assign("rack", rack.id, { groupId: ops.id }, MaintainerRole.ON_CALL))).toMatchObject({ code: Code.AlreadyExists });

    // Who answers for the rack: Alice directly, and every member of ops through the group.
    const sorted = (ids: string[]) => [...ids].sort();
    const [directRow, ...groupRows] = await allResponsible("rack", rack.id);
    expect(directRow).toMatchObject({ maintainer: alice, assignment: rackOwner, viaGroupId: "", viaGroupName: "" });
    expect(groupRows.map((row) => row.maintainer!.id)).toEqual(sorted([alice.id, bob.id, carol.id]));
    for (const row of groupRows) expect(row).toMatchObject({ assignment: rackOnCall, viaGroupId: ops.id, viaGroupName: ops.name });
    expect(groupRows.find((row) => row.maintainer!.id === carol.id)!.maintainer).toEqual(carol);

    // Filters: role, via_group_id.
    expect(who(await allResponsible("rack", rack.id, "role = MAINTAINER_ROLE_OWNER"))).toEqual([`${alice.account} direct OWNER`]);
    expect((await allResponsible("rack", rack.id, "role = ON_CALL")).map((row) => row.maintainer!.id)).toEqual(
      sorted([alice.id, bob.id, carol.id]),
    );
    expect((await allResponsible("rack", rack.id, `via_group_id = "${ops.id}"`)).length).toBe(3);
    expect(who(await allResponsible("rack", rack.id, `NOT via_group_id = "${ops.id}"`))).toEqual([`${alice.account} direct OWNER`]);
    expect(who(await allResponsible("rack", rack.id, `via_group_id != "${ops.id}" OR role = ESCALATION`))).toEqual([
      `${alice.account} direct OWNER`,
    ]);
    expect(await failure(mnt.listResourceMaintainers({ resource: { type: "rack", id: rack.id }, filter: "role = OWNERZ" }))).toMatchObject({
      reason: "INVALID_FILTER",
    });
    expect(await failure(mnt.listResourceMaintainers({ resource: { type: "rack", id: rack.id }, filter: "account = x" }))).toMatchObject({
      reason: "INVALID_FILTER",
    });

    // Pagination across pages gives the same rows in the same order; a token is bound to its query.
    const whole = await allResponsible("rack", rack.id);
    expect(whole).toHaveLength(4);
    expect(await allResponsible("rack", rack.id, "", 1)).toEqual(whole);
    const firstPage = await mnt.listResourceMaintainers({ resource: { type: "rack", id: rack.id }, pageSize: 3 });
    expect(firstPage.maintainers).toEqual(whole.slice(0, 3));
    const secondPage = await mnt.listResourceMaintainers({
      resource: { type: "rack", id: rack.id },
      pageSize: 3,
      pageToken: firstPage.nextPageToken,
    });
    expect(secondPage).toMatchObject({ nextPageToken: "" });
    expect(secondPage.maintainers).toEqual(whole.slice(3));
    expect(
      await failure(
        mnt.listResourceMaintainers({
          resource: { type: "rack", id: rack.id },
          filter: "role = OWNER",
          pageToken: firstPage.nextPageToken,
        }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_PAGE_TOKEN" });
    expect(
      await failure(mnt.listResourceMaintainers({ resource: { type: "region", id: region.id }, pageToken: firstPage.nextPageToken })),
    ).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_PAGE_TOKEN" });

    expect(who(await allResponsible("region", region.id, "role = ESCALATION"))).toEqual([`${alice.account} direct ESCALATION`]);

    // What Alice answers for: her own assignments and ops' (she is a member), with names.
    const alices = await allMaintained({ maintainerId: alice.id });
    expect(what(alices)).toEqual([
      `rack:${rack.name} direct OWNER`,
      `rack:${rack.name} via ${ops.name} ON_CALL`,
      `region:${region.name} via ${ops.name} OWNER`,
      `region:${region.name} direct ESCALATION`,
    ]);
    expect(alices[1]).toMatchObject({ resource: { type: "rack", id: rack.id }, assignment: rackOnCall, viaGroupId: ops.id });
    expect(alices[3]!.assignment).toEqual(regionEscalation);
    expect(await allMaintained({ maintainerId: alice.id }, "", 1)).toEqual(alices);
    expect(what(await allMaintained({ maintainerId: alice.id }, `resource_type = "rack"`))).toEqual([
      `rack:${rack.name} direct OWNER`,
      `rack:${rack.name} via ${ops.name} ON_CALL`,
    ]);
    expect(what(await allMaintained({ maintainerId: alice.id }, `role = OWNER`))).toEqual([
      `rack:${rack.name} direct OWNER`,
      `region:${region.name} via ${ops.name} OWNER`,
    ]);
    expect(what(await allMaintained({ maintainerId: alice.id }, `resource_type = region AND role = MAINTAINER_ROLE_ESCALATION`))).toEqual([
      `region:${region.name} direct ESCALATION`,
    ]);
    expect(
      await failure(
        mnt.listMaintainerResources({ owner: { case: "maintainerId", value: alice.id }, filter: `resource_type = "spaceship"` }),
      ),
    ).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_FILTER",
    });

    // Bob answers for what ops answers for; the group itself, for its own assignments only.
    expect(what(await allMaintained({ maintainerId: bob.id }))).toEqual([
      `rack:${rack.name} via ${ops.name} ON_CALL`,
      `region:${region.name} via ${ops.name} OWNER`,
    ]);
    const opsOwn = await allMaintained({ groupId: ops.id });
    expect(what(opsOwn)).toEqual([`rack:${rack.name} direct ON_CALL`, `region:${region.name} direct OWNER`]);
    expect(opsOwn[1]!.assignment).toEqual(regionOwner);
    expect(await failure(mnt.listMaintainerResources({ owner: { case: "maintainerId", value: randomUUID() } }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "maintainer" },
    });
    expect(await failure(mnt.listMaintainerResources({ owner: { case: "groupId", value: randomUUID() } }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "maintainer_group" },
    });
    expect(await failure(mnt.listMaintainerResources({}))).toMatchObject({ code: Code.InvalidArgument, reason: "VALIDATION_FAILED" });

    // Leaving the group ends the path through it, at once, both ways.
    await mnt.removeGroupMember({ groupId: ops.id, maintainerId: carol.id });
    expect(what(await allMaintained({ maintainerId: carol.id }))).toEqual([]);
    expect((await allResponsible("rack", rack.id)).map((row) => row.maintainer!.account)).not.toContain(carol.account);

    // Removing an assignment.
    await mnt.deleteResourceMaintainer({ id: rackOwner.id });
    expect(what(await allMaintained({ maintainerId: alice.id }, `resource_type = "rack"`))).toEqual([
      `rack:${rack.name} via ${ops.name} ON_CALL`,
    ]);
    expect(await failure(mnt.deleteResourceMaintainer({ id: rackOwner.id }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "resource_maintainer" },
    });
  });

  it("refuses an assignment to a resource that does not exist, of an unknown kind, to a missing assignee, or without a role", async () => {
    const { room } = await tree("ref");
    const rack = await newRack(room.id);
    const alice = await newMaintainer("ref");
    const missing = randomUUID();
    for (const type of ["rack", "region", "datacenter", "room", "baremetal", "baremetal_group"]) {
      expect(await failure(assign(type, missing, { maintainerId: alice.id }, MaintainerRole.OWNER))).toMatchObject({
        code: Code.NotFound,
        reason: "RESOURCE_NOT_FOUND",
        metadata: { resource_type: type, resource_id: missing },
      });
    }
    // A rack's id under another kind is not that kind's resource.
    expect(await failure(assign("room", rack.id, { maintainerId: alice.id }, MaintainerRole.OWNER))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "room" },
    });

    const unknown = await failure(assign("spaceship", rack.id, { maintainerId: alice.id }, MaintainerRole.OWNER));
    expect(unknown).toMatchObject({
      code: Code.InvalidArgument,
      reason: "UNKNOWN_RESOURCE_TYPE",
      metadata: { resource_type: "spaceship" },
    });
    expect(unknown.metadata.known_types!.split(",")).toEqual(
      expect.arrayContaining(["rack", "baremetal", "baremetal_group", "datacenter", "room", "region"]),
    );
    expect(await failure(mnt.listResourceMaintainers({ resource: { type: "spaceship", id: rack.id } }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "UNKNOWN_RESOURCE_TYPE",
    });
    expect(await failure(mnt.listResourceMaintainers({ resource: { type: "rack", id: missing } }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "rack" },
    });

    expect(await failure(assign("rack", rack.id, { maintainerId: missing }, MaintainerRole.OWNER))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "maintainer" },
    });
    expect(await failure(assign("rack", rack.id, { groupId: missing }, MaintainerRole.OWNER))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "maintainer_group" },
    });
    expect(await failure(assign("rack", rack.id, { maintainerId: alice.id }, MaintainerRole.UNSPECIFIED))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
    });
    expect(
      await failure(
        mnt.createResourceMaintainer({ resourceMaintainer: { resource: { type: "rack", id: rack.id }, role: MaintainerRole.OWNER } }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument, reason: "VALIDATION_FAILED" });
    // Nothing was stored by the refused calls.
    expect(await storedAssignments(rack.id)).toBe(0);
    expect(await storedAssignments(missing)).toBe(0);
  });

  it("deleting a rack, force-deleting a room and force-deleting a region remove their assignments in the same transaction", async () => {
    const alice = await newMaintainer("del");
    const team = await newGroup(alice.id, "del-team");
    const { region, datacenter, room } = await tree("del");
    const lone = await newRack(room.id);
    const held = await newRack(room.id);
    await assign("rack", lone.id, { maintainerId: alice.id }, MaintainerRole.OWNER);
    await assign("rack", lone.id, { groupId: team.id }, MaintainerRole.ON_CALL);
    await assign("rack", held.id, { maintainerId: alice.id }, MaintainerRole.OWNER);
    await assign("room", room.id, { groupId: team.id }, MaintainerRole.OWNER);
    await assign("datacenter", datacenter.id, { maintainerId: alice.id }, MaintainerRole.TECHNICAL_CONTACT);
    await assign("region", region.id, { maintainerId: alice.id }, MaintainerRole.ESCALATION);
    expect(await storedAssignments(lone.id)).toBe(2);

    // DeleteRack removes the rack's assignments.
    await inventory.deleteRack({ id: lone.id });
    expect(await storedAssignments(lone.id)).toBe(0);
    expect((await allMaintained({ maintainerId: alice.id })).map((row) => row.resource!.id)).not.toContain(lone.id);
    expect((await allMaintained({ groupId: team.id })).map((row) => row.resource!.id)).toEqual([room.id]);
    expect(await failure(mnt.listResourceMaintainers({ resource: { type: "rack", id: lone.id } }))).toMatchObject({ code: Code.NotFound });

    // A refused delete (its transaction rolled back) leaves the assignments alone.
    expect(await failure(inventory.deleteRoom({ id: room.id }))).toMatchObject({ code: Code.FailedPrecondition, reason: "HAS_DEPENDENTS" });
    expect(await storedAssignments(room.id)).toBe(1);
    expect(await storedAssignments(held.id)).toBe(1);

    // Force-deleting the room removes the room's and its racks' assignments.
    await inventory.deleteRoom({ id: room.id, force: true });
    expect(await storedAssignments(room.id)).toBe(0);
    expect(await storedAssignments(held.id)).toBe(0);
    expect(what(await allMaintained({ maintainerId: alice.id }))).toEqual([
      `datacenter:${datacenter.name} direct TECHNICAL_CONTACT`,
      `region:${region.name} direct ESCALATION`,
    ]);
    expect(await allMaintained({ groupId: team.id })).toEqual([]);

    // Force-deleting a datacenter takes its own, its rooms' and their racks' assignments.
    const dc3 = (await inventory.createDatacenter({ datacenter: { name: unique("del-dc"), regionId: region.id } })).datacenter!;
    const room3 = (await inventory.createRoom({ room: { name: unique("del-room"), datacenterId: dc3.id } })).room!;
    const rack3 = await newRack(room3.id);
    await assign("datacenter", dc3.id, { groupId: team.id }, MaintainerRole.OWNER);
    await assign("room", room3.id, { groupId: team.id }, MaintainerRole.OWNER);
    await assign("rack", rack3.id, { groupId: team.id }, MaintainerRole.OWNER);
    expect(await failure(inventory.deleteDatacenter({ id: dc3.id }))).toMatchObject({ reason: "HAS_DEPENDENTS" });
    expect(await allMaintained({ groupId: team.id })).toHaveLength(3);
    await inventory.deleteDatacenter({ id: dc3.id, force: true });
    for (const id of [dc3.id, room3.id, rack3.id]) expect(await storedAssignments(id)).toBe(0);
    expect(await allMaintained({ groupId: team.id })).toEqual([]);

    // Force-deleting a region takes its whole tree's assignments: datacenters, rooms, racks.
    const room2 = (await inventory.createRoom({ room: { name: unique("del-room"), datacenterId: datacenter.id } })).room!;
    const rack2 = await newRack(room2.id);
    await assign("room", room2.id, { maintainerId: alice.id }, MaintainerRole.OWNER);
    await assign("rack", rack2.id, { groupId: team.id }, MaintainerRole.OWNER);
    await inventory.deleteRegion({ id: region.id, force: true });
    for (const id of [region.id, datacenter.id, room2.id, rack2.id]) expect(await storedAssignments(id)).toBe(0);
    expect(await allMaintained({ maintainerId: alice.id })).toEqual([]);
    expect(await allMaintained({ groupId: team.id })).toEqual([]);
  });

  it("never leaves an assignment behind when it races the delete of its resource", async () => {
    const people = await Promise.all(Array.from({ length: 12 }, () => newMaintainer("race")));
    for (let round = 0; round < 3; round++) {
      const { room } = await tree("race");
      const rack = await newRack(room.id);
      const creates = people.map((person) => assign("rack", rack.id, { maintainerId: person.id }, MaintainerRole.ON_CALL));
      const results = await Promise.allSettled([...creates.slice(0, 6), inventory.deleteRack({ id: rack.id }), ...creates.slice(6)]);
      expect(results[6]!.status).toBe("fulfilled");
      for (const result of results) {
        if (result.status === "rejected") expect(ConnectError.from(result.reason).code).toBe(Code.NotFound);
      }
      expect(await storedAssignments(rack.id)).toBe(0);
    }
  });

  it("deleting a group removes its assignments and memberships; deleting a maintainer removes its own", async () => {
    const { room } = await tree("gdel");
    const rack = await newRack(room.id);
    const lead = await newMaintainer("lead");
    const member = await newMaintainer("member");
    const group = await newGroup(lead.id, "gdel");
    await mnt.addGroupMember({ groupId: group.id, maintainerId: member.id });
    await assign("rack", rack.id, { groupId: group.id }, MaintainerRole.ON_CALL);
    await assign("rack", rack.id, { maintainerId: member.id }, MaintainerRole.TECHNICAL_CONTACT);
    expect(who(await allResponsible("rack", rack.id))).toHaveLength(3);

    await mnt.deleteMaintainerGroup({ id: group.id });
    expect(await storedMemberships(group.id)).toBe(0);
    expect(await storedAssignments(rack.id)).toBe(1);
    expect(who(await allResponsible("rack", rack.id))).toEqual([`${member.account} direct TECHNICAL_CONTACT`]);
    expect(what(await allMaintained({ maintainerId: member.id }))).toEqual([`rack:${rack.name} direct TECHNICAL_CONTACT`]);
    expect(await allMaintained({ maintainerId: lead.id })).toEqual([]);

    await mnt.deleteMaintainer({ id: member.id });
    expect(await storedAssignments(rack.id)).toBe(0);
    expect(await allResponsible("rack", rack.id)).toEqual([]);
  });
});

describe("who may read and change maintainers", () => {
  it("refuses agents every read and write", async () => {
    const { room } = await tree("agent");
    const rack = await newRack(room.id);
    const m = await newMaintainer("agent");
    const group = await newGroup(m.id, "agent");
    const agent = maintainerClient(await t.token(Role.AGENT, "agent-7"));
    const denied = { code: Code.PermissionDenied, reason: "ROLE_NOT_ALLOWED" };
    const calls: Array<() => Promise<unknown>> = [
      () => agent.getMaintainer({ id: m.id }),
      () => agent.listMaintainers({}),
      () => agent.getMaintainerGroup({ id: group.id }),
      () => agent.listMaintainerGroups({}),
      () => agent.listGroupMembers({ groupId: group.id }),
      () => agent.listResourceMaintainers({ resource: { type: "rack", id: rack.id } }),
      () => agent.listMaintainerResources({ owner: { case: "maintainerId", value: m.id } }),
      () => agent.createMaintainer({ maintainer: { name: "x", account: unique("x") } }),
      () => agent.addGroupMember({ groupId: group.id, maintainerId: m.id }),
      () =>
        agent.createResourceMaintainer({
          resourceMaintainer: {
            resource: { type: "rack", id: rack.id },
            assignee: { case: "maintainerId", value: m.id },
            role: MaintainerRole.OWNER,
          },
        }),
    ];
    for (const call of calls) expect(await failure(call())).toMatchObject(denied);
  });

  it("lets services write and tenants read, hiding the racks a tenant may not see", async () => {
    const tenantId = randomUUID();
    await t.server.db
      .em()
      .execute(`insert into tenant (id, version, create_time, update_time, name, kind) values (?, 1, now(), now(), ?, 'PROJECT')`, [
        tenantId,
        unique("tenant"),
      ]);
    const { room } = await tree("tenant");
    const mine = await newRack(room.id, [tenantId]);
    const theirs = await newRack(room.id);

    const service = maintainerClient(await t.token(Role.SERVICE, "cmdb-sync"));
    const { maintainer: m } = await service.createMaintainer({ maintainer: { name: "Svc Made", account: unique("svc") } });
    for (const rack of [mine, theirs]) {
      await service.createResourceMaintainer({
        resourceMaintainer: {
          resource: { type: "rack", id: rack.id },
          assignee: { case: "maintainerId", value: m!.id },
          role: MaintainerRole.OWNER,
        },
      });
    }
    await service.createResourceMaintainer({
      resourceMaintainer: {
        resource: { type: "room", id: room.id },
        assignee: { case: "maintainerId", value: m!.id },
        role: MaintainerRole.OWNER,
      },
    });

    const member = maintainerClient(await t.token(Role.TENANT_MEMBER, "tina", tenantId));
    expect((await member.getMaintainer({ id: m!.id })).maintainer).toEqual(m);
    expect(
      (await member.listResourceMaintainers({ resource: { type: "rack", id: mine.id } })).maintainers.map((row) => row.maintainer!.id),
    ).toEqual([m!.id]);
    expect(await failure(member.listResourceMaintainers({ resource: { type: "rack", id: theirs.id } }))).toMatchObject({
      code: Code.NotFound,
      reason: "RESOURCE_NOT_FOUND",
    });
    const seen = await member.listMaintainerResources({ owner: { case: "maintainerId", value: m!.id } });
    expect(seen.resources.map((row) => row.resource!.id)).toEqual([mine.id, room.id]);
    // The admin sees all three.
    expect((await allMaintained({ maintainerId: m!.id })).map((row) => row.resource!.id)).toEqual([mine.id, theirs.id, room.id]);

    const denied = { code: Code.PermissionDenied, reason: "ROLE_NOT_ALLOWED" };
    expect(await failure(member.createMaintainer({ maintainer: { name: "x", account: unique("x") } }))).toMatchObject(denied);
    expect(await failure(member.deleteMaintainer({ id: m!.id }))).toMatchObject(denied);
    expect(await failure(member.createMaintainerGroup({ group: { name: unique("x"), managerId: m!.id } }))).toMatchObject(denied);
    expect(
      await failure(
        member.createResourceMaintainer({
          resourceMaintainer: {
            resource: { type: "rack", id: mine.id },
            assignee: { case: "maintainerId", value: m!.id },
            role: MaintainerRole.ON_CALL,
          },
        }),
      ),
    ).toMatchObject(denied);
  });
});
