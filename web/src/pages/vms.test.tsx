// Creating a VM: the name the tenant's naming rule gives next is shown while no name is typed
// (PreviewVirtualMachineName, a read), and disappears once one is.
import { create } from "@bufbuild/protobuf";
import { createRouterTransport } from "@connectrpc/connect";
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";
import { ComputeService } from "../../../gen/es/rackplane/v1/compute_pb.js";
import { GetCallerIdentityResponseSchema, Role } from "../../../gen/es/rackplane/v1/identity_pb.js";
import { TenantService } from "../../../gen/es/rackplane/v1/tenant_pb.js";
import { Caller } from "../identity";
import { Vms } from "./vms";

afterEach(cleanup);

it("previews the rule's next name for the caller's tenant until a name is typed", async () => {
  const asked: string[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(ComputeService, {
      listVirtualMachines: () => ({}),
      listVirtualMachineSpecifications: () => ({}),
      listImages: () => ({}),
      previewVirtualMachineName: (request) => {
        asked.push(request.tenantId);
        return { name: "payments-vm-0007", template: "{tenant}-vm-{seq:04}" };
      },
    });
    service(TenantService, { getTenantUsage: () => ({}) });
  });
  const caller = create(GetCallerIdentityResponseSchema, { principal: "p", role: Role.TENANT_ADMIN, tenantId: "t-1" });
  render(
    <TransportProvider transport={transport}>
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <Caller.Provider value={caller}>
          <Vms />
        </Caller.Provider>
      </QueryClientProvider>
    </TransportProvider>,
  );
  const hint = await screen.findByText("Next by the rule {tenant}-vm-{seq:04}: payments-vm-0007");
  expect(asked).toEqual(["t-1"]);
  const name = screen.getByLabelText("Name (empty: the tenant's naming rule)");
  expect(name.getAttribute("placeholder")).toBe("payments-vm-0007");
  fireEvent.change(name, { target: { value: "db-1" } });
  expect(hint.textContent).toBe("");
});
