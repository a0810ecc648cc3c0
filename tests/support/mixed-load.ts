// Mixed load on the paths that touch a VM, its host and its job at once: sequential clients that
// create named VMs and at once try the same name again, cancel some creations, and stop, start or
// delete what runs; and bursts of unnamed creations of many tenants, which the servers batch, most
// of them withdrawn again. Used by the lock-order stress test and the fleet's SIGKILL test.
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { ComputeService } from "../../gen/es/rackplane/v1/compute_pb.js";
import { OperationService } from "../../gen/es/rackplane/v1/operation_pb.js";
import type { Cloud } from "./compute.js";
import { bearer } from "./server.js";

export interface LoadClients {
  readonly compute: Client<typeof ComputeService>;
  readonly operations: Client<typeof OperationService>;
}

export function loadClients(url: string, token: string): LoadClients {
  const transport = createGrpcTransport({
    baseUrl: url,
    interceptors: [bearer(token)],
  });
  return { compute: createClient(ComputeService, transport), operations: createClient(OperationService, transport) };
}

/** Outcomes by method, code and reason, e.g. "CreateVirtualMachine AlreadyExists/ALREADY_EXISTS". */
export class Tally {
  readonly counts = new Map<string, number>();
  /** Failures no client should see under load: a database conflict or an internal error (and
   * UNAVAILABLE, unless the test kills a server). */
  readonly unexpected: string[] = [];
  /** Operations the servers acknowledged: each must end. */
  readonly operationIds: string[] = [];

  /** `tolerated`: failures expected in this test, e.g. calls cut off by a server that was killed. */
  constructor(private readonly tolerated: (error: ConnectError, reason: string) => boolean = () => false) {}

  async call<T>(method: string, call: Promise<T>): Promise<T | undefined> {
    try {
      const result = await call;
      this.count(`${method} OK`);
      const operation = (result as { operation?: { id: string } }).operation;
      if (operation) this.operationIds.push(operation.id);
      return result;
    } catch (error) {
      const e = ConnectError.from(error);
      const reason = e.findDetails(ErrorInfoSchema)[0]?.reason ?? "";
      this.count(`${method} ${Code[e.code]}/${reason}`);
      const bad = [Code.Aborted, Code.Internal, Code.Unknown, Code.Unavailable].includes(e.code) && !this.tolerated(e, reason);
      if (bad) this.unexpected.push(`${method}: ${e.message}`);
      return undefined;
    }
  }

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  summary(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort());
  }

  private count(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}

export interface MixedLoad {
  readonly clients: readonly LoadClients[];
  readonly cloud: Cloud;
  /** Tenants with a quota in the cloud's group. */
  readonly tenants: readonly string[];
  readonly tally: Tally;
  /** Load runs until this time (ms since the epoch). */
  readonly until: number;
  readonly namedClients?: number;
  readonly burstClients?: number;
}

/** Runs the load until `until`; resolves when every client has finished its last call. */
export async function runMixedLoad(load: MixedLoad): Promise<void> {
  const { clients, cloud, tenants, tally, until } = load;
  const target = { case: "groupId" as const, value: cloud.groupId };
  const catalogue = { specificationId: cloud.specificationId, imageId: cloud.imageId };

  const namedClient = async (worker: number) => {
    const tenantId = tenants[worker % tenants.length]!;
    const live: string[] = [];
    for (let n = 0; Date.now() < until; n++) {
      const api = clients[(worker + n) % clients.length]!;
      const request = { tenantId, target, ...catalogue, name: `w${worker}-${n % 6}` };
      const created = await tally.call("CreateVirtualMachine", api.compute.createVirtualMachine(request));
      // The same name again at once, through the other server: ALREADY_EXISTS, never ABORTED.
      await tally.call(
        "CreateVirtualMachine(duplicate)",
        clients[(worker + n + 1) % clients.length]!.compute.createVirtualMachine(request),
      );
      if (created) {
        if (n % 3 === 0) await tally.call("CancelOperation", api.operations.cancelOperation({ id: created.operation!.id }));
        else live.push(created.virtualMachine!.id);
      }
      const id = live[n % Math.max(1, live.length)];
      if (!id) continue;
      const verb = n % 4;
      const operation =
        verb === 0
          ? await tally.call("StopVirtualMachine", api.compute.stopVirtualMachine({ id }))
          : verb === 1
            ? await tally.call("StartVirtualMachine", api.compute.startVirtualMachine({ id }))
            : verb === 2 || live.length > 4
              ? await tally.call("DeleteVirtualMachine", api.compute.deleteVirtualMachine({ id }))
              : undefined;
      if (verb === 2 && operation) live.splice(live.indexOf(id), 1);
      if (n % 5 === 4 && operation?.operation) {
        await tally.call("CancelOperation", api.operations.cancelOperation({ id: operation.operation.id }));
      }
    }
  };

  const burstClient = async (worker: number) => {
    for (let n = 0; Date.now() < until; n++) {
      const api = clients[(worker + n) % clients.length]!;
      const burst = await Promise.all(
        tenants.map((tenantId) =>
          tally.call("CreateVirtualMachine(unnamed)", api.compute.createVirtualMachine({ tenantId, target, ...catalogue })),
        ),
      );
      // Most are withdrawn again, so the hosts do not fill up.
      await Promise.all(
        burst.map((created, i) =>
          created && i % 4 !== 0
            ? tally.call("CancelOperation", api.operations.cancelOperation({ id: created.operation!.id }))
            : Promise.resolve(),
        ),
      );
    }
  };

  await Promise.all([
    ...Array.from({ length: load.namedClients ?? 12 }, (_, i) => namedClient(i)),
    ...Array.from({ length: load.burstClients ?? 2 }, (_, i) => burstClient(i)),
  ]);
}
