// Observation history (issue 19) through the real server: observations with explicit times in a
// completed hour roll up into that hour's min / avg / max; a late sample of a rolled-up hour merges
// into it; the current hour is left to roll up once it completes; roll-ups past 30 days are pruned.
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { Health, ObservationOutcome, PowerState } from "../../gen/es/rackplane/v1/observation_pb.js";
import { rollUpObservations } from "../../src/app/observations/history.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let cloud: Cloud;
let agent = "";
const HOUR = 3_600_000;
/** The start of the hour three hours ago: complete, and within the day a report may be late. */
const hour = Math.floor((Date.now() - 3 * HOUR) / HOUR) * HOUR;

beforeAll(async () => {
  // The periodic roll-up stays out of the way: the tests run it themselves.
  t = await startTestServer(undefined, { observationRollupMillis: 3_600_000 });
  cloud = await buildCloud(t, { name: "oh", hosts: 2 });
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
