// QUO-4 across replicas: hundreds of concurrent creates through two server processes sharing one
// database, against capacity and quota that admit only some. Exactly the admissible number succeed,
// and afterwards every host's counters equal its reservations and no tenant passes a limit.
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { ComputeService } from "../../gen/es/rackplane/v1/compute_pb.js";
import { buildCloud, reservationDrift, tenantsWithQuota, type Cloud } from "../support/compute.js";
import { freshDatabaseUrl } from "../support/database.js";
import { startServerProcess, type ServerProcess } from "../support/processes.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let databaseUrl: string;
let replicas: ServerProcess[] = [];
let setup: TestServer;

beforeAll(async () => {
  databaseUrl = await freshDatabaseUrl();
  replicas = [await startServerProcess(databaseUrl), await startServerProcess(databaseUrl)];
  // An in-process server on the same database builds the cloud and checks the counters.
  setup = await startTestServer(databaseUrl);
});
afterAll(async () => {
  await setup?.close();
  await Promise.all(replicas.map((replica) => replica.stop()));
});

it("admits exactly what capacity and quota allow across two replicas", async () => {
  // Capacity-bound: 6 hosts × 16 cores, 2-vCPU VMs → 48 fit; 150 asked.
  const roomy: Cloud = await buildCloud(setup, { name: "cap", hosts: 6, quotaCpu: 100_000n });
  // Quota-bound: plenty of hosts, a 20-vCPU quota → 10 fit; 100 asked.
  const tight: Cloud = await buildCloud(setup, { name: "quota", hosts: 6, quotaCpu: 20n });
  const token = replicas[0]!.adminToken() ?? setup.adminToken;
  const clients = replicas.map((replica) =>
    createClient(
      ComputeService,
      createGrpcTransport({
        baseUrl: replica.url,
        interceptors: [bearer(token)],
      }),
    ),
  );
  // Shared: 6 hosts, 24 tenants asking 4 VMs each → 48 of 96 fit. Many tenants at once is what
  // makes each replica batch creations (creation-batch.ts) and lock rows across batches.
  const shared: Cloud = await buildCloud(setup, { name: "shared", hosts: 6 });
  const sharers = await tenantsWithQuota(setup, shared, "sharer", 24, 1000n);
  const create = (cloud: Cloud, i: number, tenantId = cloud.tenantId) =>
    clients[i % 2]!.createVirtualMachine({
      tenantId,
      target: { case: "groupId", value: cloud.groupId },
      specificationId: cloud.specificationId,
      imageId: cloud.imageId,
    });
  const requests = [
    ...Array.from({ length: 150 }, (_, i) => create(roomy, i)),
    ...Array.from({ length: 100 }, (_, i) => create(tight, i)),
    ...Array.from({ length: 96 }, (_, i) => create(shared, i, sharers[i % sharers.length])),
  ];
  const results = await Promise.allSettled(requests);
  const reasons = results.flatMap((result) =>
    result.status === "rejected"
      ? [ConnectError.from(result.reason).findDetails(ErrorInfoSchema)[0]?.reason ?? ConnectError.from(result.reason).message]
      : [],
  );
  const admitted = (from: number, to: number) => results.slice(from, to).filter((result) => result.status === "fulfilled").length;
  expect(admitted(0, 150)).toBe(48);
  expect(admitted(150, 250)).toBe(10);
  expect(admitted(250, 346)).toBe(48);
  expect(new Set(reasons)).toEqual(new Set(["INSUFFICIENT_CAPACITY", "QUOTA_EXCEEDED"]));
  expect(await reservationDrift(setup)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  // Both replicas did real work.
  for (const replica of replicas) expect(replica.output()).toContain("CreateVirtualMachine");
  // And each put creations of different tenants in shared transactions.
  for (const replica of replicas) {
    const metrics = await (await fetch(`${replica.url}/metrics`)).text();
    expect(Number(/^rackplane_vm_creations_batched_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
  }
});
