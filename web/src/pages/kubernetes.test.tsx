// The cluster pages over an in-memory router transport: the filter and create request the forms
// stand for, and a cluster's detail from one GetKubernetesCluster call with its scale, status-mark
// and kubeconfig actions sending what the API expects (the etag it read, the field mask), its health
// report (present, stale, absent) and each pool's scaling events a page at a time.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createRouterTransport } from "@connectrpc/connect";
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, expect, it } from "vitest";
import { VirtualMachineState } from "../../../gen/es/rackplane/v1/compute_pb.js";
import { GetCallerIdentityResponseSchema, Role } from "../../../gen/es/rackplane/v1/identity_pb.js";
import {
  KubernetesAddonService,
  type KubernetesClusterHealthSchema,
  type ListNodePoolScalingEventsRequest,
  type ListNodePoolScalingEventsResponseSchema,
  NodePoolScalingOutcome,
  NodePoolScalingReason,
} from "../../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import {
  type IssueKubeconfigRequest,
  KubernetesClusterStatus,
  KubernetesNodeRole,
  KubernetesService,
  type SetKubernetesClusterStatusRequest,
  type UpdateNodePoolRequest,
} from "../../../gen/es/rackplane/v1/kubernetes_pb.js";
import { OperationService, OperationState } from "../../../gen/es/rackplane/v1/operation_pb.js";
import { Caller } from "../identity";
import { ClusterDetail, clusterFilter, createClusterRequest, newerVersion } from "./kubernetes";

const { createObjectURL } = URL;
afterEach(() => {
  cleanup();
  URL.createObjectURL = createObjectURL;
});

it("builds the clusters' AIP-160 filter from the form", () => {
  expect(clusterFilter({ status: "", tenantId: "", version: "", name: "" })).toBe("");
  expect(clusterFilter({ status: "ACTIVE", tenantId: "t-1", version: " 1.31.4 ", name: 'sh"op' })).toBe(
    'status = KUBERNETES_CLUSTER_STATUS_ACTIVE AND tenant_id = "t-1" AND version = "1.31.4" AND name : "sh\\"op"',
  );
});

it("leaves a template's parts to the template and sends a custom cluster whole", () => {
  const blank = {
    tenantId: "t-1",
    name: "shop",
    templateId: "tpl-1",
    version: "",
    controlPlaneCount: "",
    groupId: "",
    specificationId: "",
    imageId: "",
    poolName: "",
    poolNodeCount: "",
  };
  expect(createClusterRequest(blank)).toEqual({
    templateId: "tpl-1",
    cluster: {
      name: "shop",
      tenantId: "t-1",
      version: "",
      controlPlane: { count: 0, groupId: "", specificationId: "", imageId: "" },
      nodePools: [],
    },
  });
  const custom = { ...blank, templateId: "", version: "1.31.4", controlPlaneCount: "3", groupId: "g", specificationId: "s", imageId: "i" };
  const request = createClusterRequest({ ...custom, poolName: "web", poolNodeCount: "2" });
  expect(request.cluster?.controlPlane).toEqual({ count: 3, groupId: "g", specificationId: "s", imageId: "i" });
  expect(request.cluster?.nodePools).toEqual([{ name: "web", nodeCount: 2, groupId: "g", specificationId: "s", imageId: "i" }]);
});

it("compares versions as numbers", () => {
  expect(newerVersion("1.32.0", "1.31.4")).toBe(true);
  expect(newerVersion("1.31.10", "1.31.9")).toBe(true);
  expect(newerVersion("1.31.4", "1.31.4")).toBe(false);
  expect(newerVersion("1.30.9", "1.31.0")).toBe(false);
});

const clusterId = "0193a000-0000-7000-8000-000000000001";

function renderDetail(
  calls: {
    scale: UpdateNodePoolRequest[];
    marks: SetKubernetesClusterStatusRequest[];
    kubeconfigs: IssueKubeconfigRequest[];
  },
  more: {
    health?: MessageInitShape<typeof KubernetesClusterHealthSchema>;
    events?: (request: ListNodePoolScalingEventsRequest) => MessageInitShape<typeof ListNodePoolScalingEventsResponseSchema>;
  } = {},
) {
  const transport = createRouterTransport(({ service }) => {
    service(KubernetesService, {
      getKubernetesCluster: () => ({
        cluster: {
          id: clusterId,
          name: "shop",
          version: "1.31.4",
          status: KubernetesClusterStatus.ACTIVE,
          etag: "7",
          controlPlane: { count: 1 },
          nodePools: [{ id: "pool-1", name: "web", nodeCount: 1, etag: "3" }],
          health: more.health,
        },
        tenant: { id: "t-1", name: "payments" },
        nodes: [
          {
            virtualMachineId: "vm-1",
            name: "shop-cp-1",
            role: KubernetesNodeRole.CONTROL_PLANE,
            baremetal: { id: "h-1", name: "fra1-a01-h01" },
            state: VirtualMachineState.RUNNING,
            version: "1.31.4",
          },
          {
            virtualMachineId: "vm-2",
            name: "shop-web-1",
            nodePoolId: "pool-1",
            role: KubernetesNodeRole.WORKER,
            baremetal: { id: "h-2", name: "fra1-a01-h02" },
            state: VirtualMachineState.RUNNING,
            version: "1.31.4",
          },
        ],
      }),
      updateNodePool: (request) => {
        calls.scale.push(request);
        return { nodePool: request.nodePool, operation: { id: "op-scale", state: OperationState.RUNNING } };
      },
      setKubernetesClusterStatus: (request) => {
        calls.marks.push(request);
        return { cluster: { id: clusterId, status: request.status, statusReason: request.reason } };
      },
      issueKubeconfig: (request) => {
        calls.kubeconfigs.push(request);
        return { kubeconfig: "apiVersion: v1\n", serialNumber: "0a1b" };
      },
    });
    service(KubernetesAddonService, {
      listNodePoolScalingEvents: (request) => more.events?.(request) ?? { events: [] },
    });
    service(OperationService, {
      async *watchOperation(request) {
        yield { operation: { id: request.id, kind: "SCALE_NODE_POOL", state: OperationState.RUNNING, progressPercent: 50 } };
      },
    });
  });
  const caller = create(GetCallerIdentityResponseSchema, { principal: "admin", role: Role.PLATFORM_ADMIN });
  const wrap = (children: ReactNode) => (
    <TransportProvider transport={transport}>
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <Caller.Provider value={caller}>{children}</Caller.Provider>
      </QueryClientProvider>
    </TransportProvider>
  );
  return render(wrap(<ClusterDetail id={clusterId} operationId="" />));
}

it("shows a cluster's pools and nodes with their hosts, and scales a pool with its etag", async () => {
  const calls = { scale: [], marks: [], kubeconfigs: [] } as Parameters<typeof renderDetail>[0];
  renderDetail(calls);
  await screen.findByRole("heading", { name: "Cluster shop" });
  expect(screen.getByTestId("cluster-status").textContent).toBe("ACTIVE");
  const nodes = within(screen.getByRole("table", { name: "Nodes" }));
  expect(nodes.getByRole("link", { name: "fra1-a01-h02" }).getAttribute("href")).toBe("/hosts/h-2");
  expect(nodes.getAllByRole("row").map((row) => row.textContent)).toEqual([
    "NodeRolePoolHostStateKubelet",
    "shop-cp-1CONTROL_PLANEfra1-a01-h01RUNNING1.31.4",
    "shop-web-1WORKERwebfra1-a01-h02RUNNING1.31.4",
  ]);
  const scale = screen.getByRole("form", { name: "Scale web" });
  fireEvent.change(within(scale).getByLabelText("Nodes in web"), { target: { value: "4" } });
  fireEvent.click(within(scale).getByRole("button", { name: "Scale" }));
  expect(await screen.findByTestId("operation-state")).toBeTruthy();
  expect(calls.scale).toHaveLength(1);
  expect(calls.scale[0]!.nodePool).toMatchObject({ id: "pool-1", etag: "3", nodeCount: 4 });
  expect(calls.scale[0]!.updateMask?.paths).toEqual(["node_count"]);
  expect(screen.getByRole("progressbar", { name: "Operation progress" }).getAttribute("value")).toBe("50");
});

it("lets a platform admin mark the status with a reason, and asks for a kubeconfig", async () => {
  const calls = { scale: [], marks: [], kubeconfigs: [] } as Parameters<typeof renderDetail>[0];
  renderDetail(calls);
  const mark = await screen.findByRole("form", { name: "Mark the cluster's status" });
  fireEvent.change(within(mark).getByLabelText("Mark as"), { target: { value: "OFFLINE" } });
  fireEvent.change(within(mark).getByLabelText("Reason"), { target: { value: "rack power work" } });
  fireEvent.submit(mark);
  await expect.poll(() => calls.marks.length).toBe(1);
  expect(calls.marks[0]).toMatchObject({ id: clusterId, status: KubernetesClusterStatus.OFFLINE, reason: "rack power work", etag: "7" });
  const saved: string[] = [];
  URL.createObjectURL = (blob) => {
    void (blob as Blob).text().then((text) => saved.push(text));
    return "blob:kubeconfig";
  };
  fireEvent.click(screen.getByRole("button", { name: "Download kubeconfig" }));
  expect(await screen.findByText(/its certificate \(0a1b\) expires/)).toBeTruthy();
  expect(calls.kubeconfigs[0]?.clusterId).toBe(clusterId);
  await expect.poll(() => saved).toEqual(["apiVersion: v1\n"]);
});

const at = (iso: string) => ({ seconds: BigInt(Date.parse(iso) / 1000), nanos: 0 });
const noCalls = () => ({ scale: [], marks: [], kubeconfigs: [] }) as Parameters<typeof renderDetail>[0];

it("shows the cluster's health report: counts, traffic, pools and when it was observed", async () => {
  renderDetail(noCalls(), {
    health: {
      observeTime: at("2026-12-03T06:00:00Z"),
      receiveTime: at("2026-12-03T06:00:02Z"),
      readyNodeCount: 4,
      notReadyNodeCount: 1,
      runningPodCount: 37,
      pendingPodCount: 3,
      failedPodCount: 2,
      traffic: { requestsPerSecond: 120.5, ingressBytesPerSecond: 2_500_000n, egressBytesPerSecond: 900n },
      nodePools: [
        {
          nodePoolId: "pool-1",
          unschedulablePodCount: 3,
          emptyNodes: [
            { virtualMachineId: "vm-3", emptySinceTime: at("2026-12-03T05:50:00Z") },
            { virtualMachineId: "vm-4", emptySinceTime: at("2026-12-03T05:40:00Z") },
          ],
        },
      ],
    },
  });
  const health = within((await screen.findByRole("heading", { name: "Health" })).closest("section")!);
  expect(health.getByTestId("health-nodes").textContent).toBe("4 ready, 1 not ready");
  expect(health.getByTestId("health-pods").textContent).toBe("37 running, 3 pending, 2 failed");
  expect(health.getByTestId("health-traffic").textContent).toBe("120.5 requests/s, 2.5 MB/s in, 900 B/s out");
  expect(health.getByTestId("health-observed").textContent).toBe("2026-12-03 06:00:00 UTC, received 2026-12-03 06:00:02 UTC");
  expect(health.queryByTestId("health-stale")).toBeNull();
  expect(
    within(health.getByRole("table", { name: "Health per node pool" }))
      .getAllByRole("row")
      .map((row) => row.textContent),
  ).toEqual(["PoolUnschedulable podsEmpty nodesEmpty since (longest)", "web322026-12-03 05:40:00 UTC"]);
});

it("marks a stale report as stale, keeping its figures, and says when there is none", async () => {
  renderDetail(noCalls(), {
    health: { observeTime: at("2026-12-03T05:00:00Z"), readyNodeCount: 2, runningPodCount: 9, stale: true },
  });
  const stale = await screen.findByTestId("health-stale");
  expect(stale.textContent).toContain("Stale");
  expect(stale.textContent).toContain("2026-12-03 05:00:00 UTC");
  expect(screen.getByTestId("health-observed").textContent).toContain("(stale)");
  expect(screen.getByTestId("health-nodes").textContent).toBe("2 ready, 0 not ready");
  expect(screen.queryByTestId("health-traffic")).toBeNull();
  cleanup();
  renderDetail(noCalls());
  expect((await screen.findByTestId("health-absent")).textContent).toContain("No health report yet");
  expect(screen.queryByTestId("health-nodes")).toBeNull();
});

it("lists a pool's scaling events 20 a page and reads the next page on More", async () => {
  const requests: ListNodePoolScalingEventsRequest[] = [];
  const event = (n: number) => ({
    id: `ev-${n}`,
    nodePoolId: "pool-1",
    fromNodeCount: n,
    toNodeCount: n + 1,
    reason: NodePoolScalingReason.UNSCHEDULABLE_PODS,
    unschedulablePodCount: 4,
    observeTime: at("2026-12-03T05:00:00Z"),
    createTime: at(`2026-12-03T05:${String(n).padStart(2, "0")}:00Z`),
    outcome: NodePoolScalingOutcome.STARTED,
    operationId: "0193a000-0000-7000-8000-00000000abcd",
  });
  renderDetail(noCalls(), {
    events: (request) => {
      requests.push(request);
      if (request.pageToken === "") return { events: Array.from({ length: 20 }, (_, i) => event(i)), nextPageToken: "page-2" };
      return {
        events: [
          {
            id: "ev-down",
            nodePoolId: "pool-1",
            fromNodeCount: 4,
            toNodeCount: 2,
            reason: NodePoolScalingReason.EMPTY_NODES,
            removedNodeIds: ["vm-3", "vm-4"],
            observeTime: at("2026-12-03T05:55:00Z"),
            createTime: at("2026-12-03T05:55:01Z"),
            outcome: NodePoolScalingOutcome.REFUSED,
            refusedReason: "QUOTA_EXCEEDED",
            message: "tenant over quota",
          },
        ],
      };
    },
  });
  const table = await screen.findByRole("table", { name: "Scaling events of pool web, newest first" });
  expect(requests[0]).toMatchObject({ pageSize: 20, pageToken: "", filter: 'node_pool_id = "pool-1"', orderBy: "create_time desc" });
  const rows = () => within(table).getAllByRole("row");
  expect(rows()).toHaveLength(21);
  expect(rows()[1]!.textContent).toBe(
    "2026-12-03 05:00:00up 0 → 1UNSCHEDULABLE_PODS4 unschedulable pods, observed 2026-12-03 05:00:00STARTED (operation …0000abcd)",
  );
  fireEvent.click(screen.getByRole("button", { name: "More events of web" }));
  await expect.poll(() => rows().length).toBe(22);
  expect(requests.at(-1)).toMatchObject({
    pageSize: 20,
    pageToken: "page-2",
    filter: 'node_pool_id = "pool-1"',
    orderBy: "create_time desc",
  });
  expect(rows()[21]!.textContent).toBe(
    "2026-12-03 05:55:01down 4 → 2EMPTY_NODES2 empty nodes removed, observed 2026-12-03 05:55:00REFUSED QUOTA_EXCEEDED: tenant over quota",
  );
  expect(screen.queryByRole("button", { name: "More events of web" })).toBeNull();
});

it("says when a pool has no scaling events", async () => {
  renderDetail(noCalls());
  expect(await screen.findByText(/No scaling events/)).toBeTruthy();
  expect(screen.queryByRole("button", { name: /More events/ })).toBeNull();
});
