// Who maintains a resource, and a platform admin assigning and unassigning over the public RPCs;
// a tenant's people see the list without the controls.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createRouterTransport } from "@connectrpc/connect";
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";
import { GetCallerIdentityResponseSchema, Role } from "../../../gen/es/rackplane/v1/identity_pb.js";
import {
  type CreateResourceMaintainerRequest,
  MaintainerRole,
  MaintainerService,
  type ResponsibleMaintainerSchema,
} from "../../../gen/es/rackplane/v1/maintainer_pb.js";
import { Caller } from "../identity";
import { ResourceMaintainers } from "./resource-maintainers";

afterEach(cleanup);

const hostId = "0193a000-0000-7000-8000-0000000000aa";

function renderFor(role: Role) {
  const created: CreateResourceMaintainerRequest[] = [];
  const deleted: string[] = [];
  let maintainers: MessageInitShape<typeof ResponsibleMaintainerSchema>[] = [
    { maintainer: { id: "m-1", name: "ada" }, assignment: { id: "a-1", role: MaintainerRole.OWNER } },
    {
      maintainer: { id: "m-2", name: "bob" },
      assignment: { id: "a-2", role: MaintainerRole.ON_CALL },
      viaGroupId: "g-1",
      viaGroupName: "storage-oncall",
    },
    {
      maintainer: { id: "m-3", name: "cy" },
      assignment: { id: "a-2", role: MaintainerRole.ON_CALL },
      viaGroupId: "g-1",
      viaGroupName: "storage-oncall",
    },
  ];
  const transport = createRouterTransport(({ service }) => {
    service(MaintainerService, {
      listResourceMaintainers: () => ({ maintainers }),
      listMaintainers: () => ({ maintainers: [{ id: "m-4", name: "dee" }] }),
      listMaintainerGroups: () => ({ groups: [{ id: "g-1", name: "storage-oncall" }] }),
      createResourceMaintainer: (request) => {
        created.push(request);
        return { resourceMaintainer: { id: "a-3", role: request.resourceMaintainer?.role } };
      },
      deleteResourceMaintainer: (request) => {
        deleted.push(request.id);
        maintainers = maintainers.filter((m) => m.assignment?.id !== request.id);
        return {};
      },
    });
  });
  const caller = create(GetCallerIdentityResponseSchema, { principal: "p", role });
  render(
    <TransportProvider transport={transport}>
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <Caller.Provider value={caller}>
          <ResourceMaintainers type="baremetal" id={hostId} />
        </Caller.Provider>
      </QueryClientProvider>
    </TransportProvider>,
  );
  return { created, deleted };
}

it("lists one entry per assignment and lets a platform admin assign and unassign", async () => {
  const { created, deleted } = renderFor(Role.PLATFORM_ADMIN);
  const section = within(await screen.findByRole("region", { name: "Maintainers" }));
  await section.findByText("storage-oncall:", { exact: false });
  expect(section.getAllByRole("listitem").map((li) => li.textContent)).toEqual([
    "ada OWNER Unassign ada",
    "storage-oncall: bob, cy ON_CALL Unassign storage-oncall",
  ]);
  expect(screen.queryByRole("form", { name: "Assign a maintainer" })).toBeNull();
  const details = screen.getByText("Assign a maintainer or group").closest("details")!;
  details.open = true;
  fireEvent(details, new Event("toggle"));
  const form = within(await screen.findByRole("form", { name: "Assign a maintainer" }));
  await form.findByRole("option", { name: "dee" });
  fireEvent.change(form.getByLabelText("Maintainer or group"), { target: { value: "group:g-1" } });
  fireEvent.change(form.getByLabelText("Role"), { target: { value: String(MaintainerRole.ESCALATION) } });
  fireEvent.click(form.getByRole("button", { name: "Assign" }));
  await expect.poll(() => created.length).toBe(1);
  expect(created[0]!.resourceMaintainer).toMatchObject({
    resource: { type: "baremetal", id: hostId },
    assignee: { case: "groupId", value: "g-1" },
    role: MaintainerRole.ESCALATION,
  });
  fireEvent.click(section.getByRole("button", { name: "Unassign storage-oncall" }));
  await expect.poll(() => deleted).toEqual(["a-2"]);
  await expect.poll(() => section.getAllByRole("listitem").length).toBe(1);
});

it("shows a tenant member the maintainers without the controls", async () => {
  renderFor(Role.TENANT_MEMBER);
  const section = within(await screen.findByRole("region", { name: "Maintainers" }));
  await section.findByRole("link", { name: "ada" });
  expect(section.queryAllByRole("button")).toHaveLength(0);
  expect(screen.queryByRole("form", { name: "Assign a maintainer" })).toBeNull();
});
