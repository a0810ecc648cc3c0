// Group commit of VM creations (app/compute/creation-batch.ts), against real PostgreSQL. A batcher
// with one transaction at a time makes the batches deterministic: the first creation runs alone,
// and everything queued behind it forms the next batches, at most one creation per tenant each.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreationBatcher } from "../../src/app/compute/creation-batch.js";
import { createAlone, type CreateVirtualMachine, type Created } from "../../src/app/compute/creation.js";
import type { CallContext } from "../../src/app/context.js";
import { DomainError } from "../../src/domain/errors.js";
import { buildCloud, reservationDrift, tenantsWithQuota, type Cloud } from "../support/compute.js";
import { freshDatabaseUrl } from "../support/database.js";
import { startTestServer, type TestServer } from "../support/server.js";
import pg from "pg";

let t: TestServer;
let databaseUrl: string;
beforeAll(async () => {
  databaseUrl = await freshDatabaseUrl();
  t = await startTestServer(databaseUrl);
});
afterAll(async () => {
  await t?.close();
});

const method = "rackplane.v1.ComputeService/CreateVirtualMachine";

function callContext(): CallContext {
  return {
    principal: { name: "batch-test", role: "PLATFORM_ADMIN", tenantId: undefined, tokenId: "" },
    requestId: crypto.randomUUID(),
    method,
    audit: { resourceType: "", resourceId: "", written: false },
  };
}

function request(cloud: Cloud, tenantId: string, name = ""): CreateVirtualMachine {
  return {
    tenantId,
    target: { groupId: cloud.groupId },
    specificationId: cloud.specificationId,
    imageId: cloud.imageId,
    clusterId: null,
    role: "",
    name,
    antiAffinity: undefined,
  };
}

/** What a creation came to: the VM's name, or the refusal's reason. */
async function outcome(creation: Promise<Created>): Promise<{ name: string } | { reason: string }> {
  try {
    return { name: (await creation).virtualMachine.name };
  } catch (error) {
    if (error instanceof DomainError) return { reason: error.reason };
    throw error;
  }
}

describe("a batch of creations", () => {
  it("admits what capacity and quota allow, gives back refused name numbers, and keeps every counter exact", async () => {
    // 4 hosts × 16 cores of 2-vCPU VMs: 32 fit. Six tenants may hold 2 VMs each, six may hold many.
    const cloud = await buildCloud(t, { name: "batch", hosts: 4 });
    const limited = await tenantsWithQuota(t, cloud, "batch-limited", 6, 4n);
    const roomy = await tenantsWithQuota(t, cloud, "batch-roomy", 6, 1000n);
    const batcher = new CreationBatcher(t.server.db, { concurrentTransactions: 1, batchSize: 16 });
    // One creation each first, alone: the batches after know each tenant's naming and draw its numbers.
    for (const tenantId of [...limited, ...roomy])
      expect(await outcome(batcher.create(callContext(), request(cloud, tenantId)))).toHaveProperty("name");
    expect(batcher.stats.batches).toBe(0);

    // Three more each, all at once: 36 asked, 20 fit. The first runs alone; the others queue and
    // form batches of one creation per tenant.
    const asked = [0, 1, 2].flatMap(() => [...limited, ...roomy]);
    const outcomes = await Promise.all(asked.map((tenantId) => outcome(batcher.create(callContext(), request(cloud, tenantId)))));
    const names = outcomes.flatMap((o) => ("name" in o ? [o.name] : []));
    const reasons = outcomes.flatMap((o) => ("reason" in o ? [o.reason] : []));
    expect(names).toHaveLength(20);
    expect(new Set(reasons)).toEqual(new Set(["QUOTA_EXCEEDED", "INSUFFICIENT_CAPACITY"]));
    expect(batcher.stats.batches).toBeGreaterThanOrEqual(2);
    expect(batcher.stats.batched).toBeGreaterThan(0);
    expect(batcher.stats.failedBatches).toBe(0);

    const em = t.server.db.em();
    const perTenant = await em.execute<{ tenant_id: string; vms: number; names: string[]; last_value: number }[]>(
      `select vm.tenant_id, count(*)::int as vms, array_agg(vm.name order by vm.name) as names, max(s.last_value)::int as last_value
         from virtual_machine vm join name_sequence s on s.tenant_id = vm.tenant_id where vm.group_id = ? group by vm.tenant_id`,
      [cloud.groupId],
    );
    expect(perTenant).toHaveLength(12);
    for (const row of perTenant) {
      if (limited.includes(row.tenant_id)) expect(row.vms).toBeLessThanOrEqual(2);
      // Numbers are 1…n with no gap, and the next is n + 1: a refused creation's drawn number was given back.
      expect(row.names.map((name) => Number(/-(\d+)$/.exec(name)![1]))).toEqual(Array.from({ length: row.vms }, (_, i) => i + 1));
      expect(row.last_value).toBe(row.vms);
    }
    expect(perTenant.reduce((sum, row) => sum + row.vms, 0)).toBe(32);
    // Each committed creation wrote its own audit row.
    const [audited] = await em.execute<{ n: number }[]>(
      "select count(*)::int as n from audit_event where principal = 'batch-test' and result = 'OK'",
    );
    expect(audited!.n).toBe(32);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("draws the numbers of tenants the server has not seen in the batch itself, and gives a refused one's back", async () => {
    const cloud = await buildCloud(t, { name: "unseen", hosts: 2 });
    const fresh = await tenantsWithQuota(t, cloud, "unseen-fresh", 4, 1000n);
    const [starved] = await tenantsWithQuota(t, cloud, "unseen-starved", 1, 1n);
    const batcher = new CreationBatcher(t.server.db, { concurrentTransactions: 1, batchSize: 16 });
    // None of these tenants has created a VM on this server: their naming is unknown until their
    // facts are read. The first creation runs alone; the five behind it form one batch.
    const outcomes = await Promise.all([
      outcome(batcher.create(callContext(), request(cloud, cloud.tenantId, "opener"))),
      ...[...fresh, starved!].map((tenantId) => outcome(batcher.create(callContext(), request(cloud, tenantId)))),
    ]);
    expect(outcomes[0]).toEqual({ name: "opener" });
    for (const each of outcomes.slice(1, 5)) expect((each as { name: string }).name).toMatch(/-0*1$/);
    expect(outcomes[5]).toEqual({ reason: "QUOTA_EXCEEDED" });
    expect(batcher.stats).toMatchObject({ batches: 1, batched: 4, handedOn: 0, failedBatches: 0 });
    const sequences = await t.server.db
      .em()
      .execute<{ tenant_id: string; last_value: number }[]>("select tenant_id, last_value from name_sequence where tenant_id in (?)", [
        [...fresh, starved!],
      ]);
    expect(Object.fromEntries(sequences.map((row) => [row.tenant_id, row.last_value]))).toEqual({
      ...Object.fromEntries(fresh.map((id) => [id, 1])),
      [starved!]: 0,
    });
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("that fails as a whole is rolled back and retried creation by creation", async () => {
    const cloud = await buildCloud(t, { name: "retry", hosts: 2 });
    const others = await tenantsWithQuota(t, cloud, "retry-other", 3, 1000n);
    const batcher = new CreationBatcher(t.server.db, { concurrentTransactions: 1, batchSize: 16 });
    expect(await outcome(batcher.create(callContext(), request(cloud, cloud.tenantId, "taken")))).toEqual({ name: "taken" });
    // The first runs alone; the next four form one batch, in which the duplicate name fails the
    // final statement: the batch rolls back, and each creation runs alone and meets its own fate.
    const outcomes = await Promise.all([
      outcome(batcher.create(callContext(), request(cloud, others[0]!, "first"))),
      outcome(batcher.create(callContext(), request(cloud, cloud.tenantId, "taken"))),
      ...others.map((tenantId) => outcome(batcher.create(callContext(), request(cloud, tenantId, "batched")))),
    ]);
    expect(outcomes).toEqual([
      { name: "first" },
      { reason: "ALREADY_EXISTS" },
      { name: "batched" },
      { name: "batched" },
      { name: "batched" },
    ]);
    expect(batcher.stats).toMatchObject({ failedBatches: 1, handedOn: 4 });
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("locks its quota rows before any host, so a release holding a quota row takes its host without waiting", async () => {
    const cloud = await buildCloud(t, { name: "cycle", hosts: 2 });
    const [later] = await tenantsWithQuota(t, cloud, "cycle-later", 1, 1000n);
    const batcher = new CreationBatcher(t.server.db, { concurrentTransactions: 1, batchSize: 16 });
    // Another transaction holds the later tenant's quota row, as a release does before its host row.
    const release = new pg.Client({ connectionString: databaseUrl });
    await release.connect();
    try {
      await release.query("begin");
      await release.query("select 1 from baremetal_group_tenant_quota where tenant_id = $1 for update", [later]);
      // The first creation runs alone; the next two form a batch in tenant order, which waits for
      // the later tenant's quota row before it reads any facts or locks any host.
      const first = outcome(batcher.create(callContext(), request(cloud, cloud.tenantId, "alone")));
      expect(await first).toEqual({ name: "alone" });
      const batched = [
        outcome(batcher.create(callContext(), request(cloud, cloud.tenantId, "one"))),
        outcome(batcher.create(callContext(), request(cloud, later!, "two"))),
      ];
      const em = t.server.db.em();
      for (let waiting = 0; waiting === 0; ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        [{ waiting } = { waiting: 0 }] = await em.execute<{ waiting: number }[]>(
          "select count(*)::int as waiting from pg_stat_activity where wait_event_type = 'Lock' and query like '%placement_facts%'",
        );
      }
      // The release takes the hosts (the batch holds none of them: it would have timed out and
      // failed otherwise), commits, and the batch goes on whole.
      await release.query("select 1 from baremetal where id = any($1::uuid[]) for update", [cloud.hostIds]);
      await release.query("commit");
      expect(await Promise.all(batched)).toEqual([{ name: "one" }, { name: "two" }]);
      expect(batcher.stats).toMatchObject({ batches: 1, batched: 2, failedBatches: 0, handedOn: 0 });
    } finally {
      await release.end();
    }
  });
});

describe("a creation alone", () => {
  it("waits for busy hosts in a transaction of its own, and is placed once they are free", async () => {
    const cloud = await buildCloud(t, { name: "busy", hosts: 2 });
    const holder = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    try {
      // Every fitting host is held by another transaction, as concurrent placements hold them.
      await holder.query("begin");
      await holder.query("select 1 from baremetal where id = any($1::uuid[]) for update", [cloud.hostIds]);
      const creation = outcome(createAlone(t.server.db, callContext(), request(cloud, cloud.tenantId, "patient"), ""));
      // The first transaction skipped both hosts and rolled back; the second waits for them with the
      // statement that locks them in id order.
      const em = t.server.db.em();
      for (let waiting = 0; waiting === 0; ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        [{ waiting } = { waiting: 0 }] = await em.execute<{ waiting: number }[]>(
          "select count(*)::int as waiting from pg_stat_activity where wait_event_type = 'Lock' and query like '%placement_facts_group_wait%'",
        );
      }
      await holder.query("commit");
      expect(await creation).toEqual({ name: "patient" });
      expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    } finally {
      await holder.end();
    }
  });

  it("is refused for capacity once no host fits, never with the busy-hosts retry signal", async () => {
    const cloud = await buildCloud(t, { name: "full", hosts: 1, quotaCpu: 100_000n });
    const results: Array<{ name: string } | { reason: string }> = [];
    for (let i = 0; i < 64; i++) {
      const result = await outcome(createAlone(t.server.db, callContext(), request(cloud, cloud.tenantId, `fill-${i}`), ""));
      results.push(result);
      if ("reason" in result) break;
    }
    expect(results.at(-1)).toEqual({ reason: "INSUFFICIENT_CAPACITY" });
    expect(results.slice(0, -1).every((result) => "name" in result)).toBe(true);
  });
});
