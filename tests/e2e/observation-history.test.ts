// Observation history (issue 19) through the real server: observations with explicit times in a
// completed hour roll up into that hour's min / avg / max; a late sample of a rolled-up hour merges
// into it; the current hour is left to roll up once it completes; roll-ups past 30 days are pruned.
// ListObservationHistory reads them hour by hour, paged, only for whoever may read the resource.
import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { Health, ObservationOutcome, ObservationService, PowerState } from "../../gen/es/rackplane/v1/observation_pb.js";
import { rollUpObservations } from "../../src/app/observations/history.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { bearer, startTestServer, type TestServer } from "../support/server.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ListObservationHistoryRequestSchema } from "../../gen/es/rackplane/v1/observation_pb.js";

let t: TestServer;
let cloud: Cloud;
let agent = "";
const HOUR = 3_600_000;
const MISSING = "0f5b4a3e-58a1-4c4e-9b7e-1d2c3b4a5f60";
/** The start of the hour three hours ago: complete, and within the day a report may be late. */
const hour = Math.floor((Date.now() - 3 * HOUR) / HOUR) * HOUR;

beforeAll(async () => {
  // The periodic roll-up stays out of the way: the tests run it themselves.
  t = await startTestServer(undefined, { observationRollupMillis: 3_600_000 });
  cloud = await buildCloud(t, { name: "oh", hosts: 3 });
  agent = await t.token(Role.AGENT, "history-agent");
});
afterAll(async () => {
  await t?.close();
});

const observe = (hostId: string, at: number, cpuPercent: number, memoryUsedMib: bigint, storageUsedGib: bigint) =>
  t.agents(agent).reportObservations({
    observations: [
      {
        subject: { case: "baremetalId", value: hostId },
        observeTime: timestampFromMs(at),
        powerState: PowerState.ON,
        health: Health.OK,
        cpuPercent,
        memoryUsedMib,
        storageUsedGib,
      },
    ],
  });

async function rollups(hostId: string) {
  return t.server.db
    .em()
    .execute<Record<string, string | number | Date>[]>(
      "select * from observation_rollup where resource_type = 'baremetal' and resource_id = ? order by hour_start",
      [hostId],
    );
}
async function samples(hostId: string): Promise<number> {
  const [row] = await t.server.db
    .em()
    .execute<{ n: string }[]>("select count(*) as n from observation_sample where resource_id = ?", [hostId]);
  return Number(row!.n);
}

describe("hourly roll-ups", () => {
  it("rolls a completed hour up into its min, average and max, and leaves the current hour", async () => {
    const host = cloud.hostIds[0]!;
    for (const [minute, cpu, memory, storage] of [
      [10, 10, 1_000n, 5n],
      [20, 20, 2_000n, 5n],
      [40, 60, 3_000n, 8n],
    ] as const) {
      expect((await observe(host, hour + minute * 60_000, cpu, memory, storage)).outcomes).toEqual([ObservationOutcome.ACCEPTED]);
    }
    // Two hours later, still not the current hour.
    await observe(host, hour + 2 * HOUR + 60_000, 90, 4_000n, 9n);
    // Now: the current hour, not complete.
    await observe(host, Date.now(), 50, 4_500n, 9n);
    expect(await samples(host)).toBe(5);

    const result = await rollUpObservations(t.server.db);
    expect(result?.samples).toBe(4);
    expect(await samples(host)).toBe(1);
    const rows = await rollups(host);
    expect(rows.map((row) => new Date(row.hour_start as string).getTime())).toEqual([hour, hour + 2 * HOUR]);
    expect(rows[0]).toMatchObject({
      sample_count: 3,
      cpu_percent_min: 10,
      cpu_percent_sum: 90,
      cpu_percent_max: 60,
      memory_used_mib_min: 1000,
      memory_used_mib_sum: 6_000,
      memory_used_mib_max: 3000,
      storage_used_gib_min: 5,
      storage_used_gib_sum: 18,
      storage_used_gib_max: 8,
    });
    expect(rows[1]).toMatchObject({ sample_count: 1, cpu_percent_min: 90, cpu_percent_max: 90 });
    // Nothing new: a second run folds nothing and changes nothing.
    expect((await rollUpObservations(t.server.db))?.samples).toBe(0);
    expect(await rollups(host)).toEqual(rows);
  });

  it("merges a late sample into an hour already rolled up", async () => {
    const host = cloud.hostIds[1]!;
    await observe(host, hour + 5 * 60_000, 30, 1_000n, 1n);
    await rollUpObservations(t.server.db);
    // Newer than the stored observation, so accepted, but of the hour already rolled up.
    await observe(host, hour + 50 * 60_000, 80, 500n, 3n);
    await rollUpObservations(t.server.db);
    const [row] = await rollups(host);
    expect(row).toMatchObject({ sample_count: 2, cpu_percent_min: 30, cpu_percent_sum: 110, cpu_percent_max: 80 });
    expect(row).toMatchObject({ memory_used_mib_min: 500, memory_used_mib_max: 1000, storage_used_gib_max: 3 });
  });

  it("lets one replica roll up at a time", async () => {
    const results = await Promise.all([rollUpObservations(t.server.db), rollUpObservations(t.server.db)]);
    expect(results.filter((result) => result !== undefined).length).toBeGreaterThanOrEqual(1);
    // A run that finds the lock taken does nothing and says so.
    const em = t.server.db.em();
    await em.transactional(async (tx) => {
      await tx.execute("select pg_advisory_xact_lock(7245032)");
      expect(await rollUpObservations(t.server.db)).toBeUndefined();
    });
  });
});

type HistoryRequest = MessageInitShape<typeof ListObservationHistoryRequestSchema>;
const history = (request: HistoryRequest, token = t.adminToken) =>
  createClient(ObservationService, createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(token)] })).listObservationHistory(request);
type HistoryRange = { startTime?: HistoryRequest["startTime"]; endTime?: HistoryRequest["endTime"]; pageSize?: number; pageToken?: string };
const ofHost = (id: string, extra: HistoryRange = {}): HistoryRequest => ({
  resource: { case: "baremetalId", value: id },
  ...extra,
});
async function refusal(request: Promise<unknown>): Promise<{ code: Code; reason: string; fields: string[] }> {
  const error = await request.then(
    () => {
      throw new Error("accepted");
    },
    (error: unknown) => ConnectError.from(error),
  );
  return {
    code: error.code,
    reason: error.findDetails(ErrorInfoSchema)[0]?.reason ?? "",
    fields: error.findDetails(BadRequestSchema).flatMap((bad) => bad.fieldViolations.map((violation) => violation.field)),
  };
}

describe("ListObservationHistory", () => {
  // Runs after the roll-ups above: host 1 holds the hour `hour`, rolled up.
  it("reads rolled-up hours and the current hour as one, oldest first, with min / avg / max", async () => {
    await observe(cloud.hostIds[1]!, Date.now(), 40, 2_000n, 4n);
    const { points, nextPageToken } = await history(ofHost(cloud.hostIds[1]!));
    expect(nextPageToken).toBe("");
    expect(points.map((point) => timestampDate(point.hourStartTime!).getTime())).toEqual([hour, Math.floor(Date.now() / HOUR) * HOUR]);
    expect(points[0]).toMatchObject({
      sampleCount: 2,
      cpuPercent: { min: 30, avg: 55, max: 80 },
      memoryUsedMib: { min: 500, avg: 750, max: 1_000 },
      storageUsedGib: { min: 1, avg: 2, max: 3 },
    });
    expect(points[1]).toMatchObject({ sampleCount: 1, cpuPercent: { min: 40, avg: 40, max: 40 } });
  });

  it("pages by the hour, within the time range asked", async () => {
    const host = cloud.hostIds[2]!;
    for (const back of [3, 2, 1, 0]) await observe(host, hour - back * HOUR, back, 1n, 1n);
    await rollUpObservations(t.server.db);
    const hours = (points: { hourStartTime?: Parameters<typeof timestampDate>[0] }[]) =>
      points.map((point) => timestampDate(point.hourStartTime!).getTime());
    const all: number[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await history(ofHost(host, { pageSize: 3, pageToken }));
      expect(page.points.length).toBeLessThanOrEqual(3);
      all.push(...hours(page.points));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(pages).toBe(2);
    expect(all).toEqual([hour - 3 * HOUR, hour - 2 * HOUR, hour - HOUR, hour]);
    // [start, end): the hour starting at end is left out.
    const range = await history(ofHost(host, { startTime: timestampFromMs(hour - 2 * HOUR), endTime: timestampFromMs(hour) }));
    expect(hours(range.points)).toEqual([hour - 2 * HOUR, hour - HOUR]);
    // Before any observation: nothing.
    expect((await history(ofHost(host, { endTime: timestampFromMs(hour - 3 * HOUR) }))).points).toEqual([]);
  });

  it.each([
    ["no resource", () => ({}), Code.InvalidArgument, "VALIDATION_FAILED", "resource"],
    [
      "id not a UUID",
      () => ({ resource: { case: "baremetalId", value: "host-1" } }),
      Code.InvalidArgument,
      "VALIDATION_FAILED",
      "baremetal_id",
    ],
    ["negative page size", () => ofHost(MISSING, { pageSize: -1 }), Code.InvalidArgument, "VALIDATION_FAILED", "page_size"],
    [
      "end before start",
      () => ofHost(MISSING, { startTime: timestampFromMs(hour), endTime: timestampFromMs(hour - HOUR) }),
      Code.InvalidArgument,
      "VALIDATION_FAILED",
      "",
    ],
    [
      "a page token not issued",
      () => ofHost(cloud.hostIds[0]!, { pageToken: "bm90IGEgdG9rZW4" }),
      Code.InvalidArgument,
      "INVALID_PAGE_TOKEN",
      "page_token",
    ],
    ["an unknown host", () => ofHost(MISSING), Code.NotFound, "RESOURCE_NOT_FOUND", undefined],
    ["an unknown VM", () => ({ resource: { case: "virtualMachineId", value: MISSING } }), Code.NotFound, "RESOURCE_NOT_FOUND", undefined],
  ] as [string, () => HistoryRequest, Code, string, string | undefined][])("refuses %s", async (_what, request, code, reason, field) => {
    const refused = await refusal(history(request()));
    expect(refused).toMatchObject({ code, reason });
    if (field !== undefined) expect(refused.fields).toContain(field);
  });

  it("refuses a page token of another range or resource", async () => {
    const first = await history(ofHost(cloud.hostIds[2]!, { pageSize: 1 }));
    expect(first.nextPageToken).not.toBe("");
    for (const request of [
      ofHost(cloud.hostIds[1]!, { pageSize: 1, pageToken: first.nextPageToken }),
      ofHost(cloud.hostIds[2]!, { pageSize: 1, pageToken: first.nextPageToken, startTime: timestampFromMs(hour - HOUR) }),
    ]) {
      expect(await refusal(history(request))).toMatchObject({
        code: Code.InvalidArgument,
        reason: "INVALID_PAGE_TOKEN",
        fields: ["page_token"],
      });
    }
  });

  it("shows a VM's history to its tenant's members only, and no one's to an agent", async () => {
    const vm = (
      await t.compute().createVirtualMachine({
        tenantId: cloud.tenantId,
        target: { case: "groupId", value: cloud.groupId },
        specificationId: cloud.specificationId,
        imageId: cloud.imageId,
      })
    ).virtualMachine!.id;
    await t.agents(agent).reportObservations({
      observations: [
        {
          subject: { case: "virtualMachineId", value: vm },
          observeTime: timestampFromMs(hour + 60_000),
          powerState: PowerState.ON,
          cpuPercent: 7,
        },
      ],
    });
    const other = await t.tenant("oh-other");
    const member = await t.token(Role.TENANT_MEMBER, "oh-member", cloud.tenantId);
    const stranger = await t.token(Role.TENANT_ADMIN, "oh-stranger", other);
    const request: HistoryRequest = { resource: { case: "virtualMachineId", value: vm } };
    const own = await history(request, member);
    expect(own.points).toMatchObject([{ sampleCount: 1, cpuPercent: { min: 7, avg: 7, max: 7 } }]);
    // Another tenant's VM reads as one that does not exist.
    expect(await refusal(history(request, stranger))).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
    expect(await refusal(history(request, agent))).toMatchObject({ code: Code.PermissionDenied, reason: "ROLE_NOT_ALLOWED" });
    expect(await refusal(history(ofHost(cloud.hostIds[0]!), agent))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "ROLE_NOT_ALLOWED",
    });
  });
});

// Last: it moves the clock thirty days on.
describe("retention", () => {
  it("prunes roll-ups older than 30 days", async () => {
    const host = cloud.hostIds[0]!;
    expect((await rollups(host)).length).toBe(2);
    // Thirty days after the later of the two hours: the earlier one is past the retention.
    const result = await rollUpObservations(t.server.db, new Date(hour + 2 * HOUR + 30 * 24 * HOUR));
    expect(result?.pruned).toBeGreaterThanOrEqual(1);
    const left = await rollups(host);
    expect(left.map((row) => new Date(row.hour_start as string).getTime())).not.toContain(hour);
    expect(left.map((row) => new Date(row.hour_start as string).getTime())).toContain(hour + 2 * HOUR);
  });
});
