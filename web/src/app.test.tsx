// The signed-in shell over an in-memory router transport: the token is kept in sessionStorage
// only, sent as a bearer token, and the caller's identity is shown.
import { createRouterTransport } from "@connectrpc/connect";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";
import { IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { App } from "./app";

afterEach(() => {
  cleanup();
  sessionStorage.clear();
  localStorage.clear();
});

function transportFor(token: string) {
  return createRouterTransport(({ service }) => {
    service(IdentityService, {
      getCallerIdentity: () => ({
        principal: `alice(${token})`,
        role: Role.TENANT_MEMBER,
        tenantId: "3f1c6d52-0000-4000-8000-000000000001",
      }),
    });
    service(InventoryService, { listRegions: () => ({ regions: [{ id: "r1", name: "eu-west" }] }) });
  });
}

it("signs in with a token kept for the tab, shows who is signed in, and signs out", async () => {
  window.history.pushState(null, "", "/inventory");
  render(<App transportFor={transportFor} />);
  fireEvent.change(screen.getByLabelText("API token"), { target: { value: " rp_secret " } });
  fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
  expect((await screen.findByTestId("whoami")).textContent).toContain("alice(rp_secret) · TENANT_MEMBER");
  expect(sessionStorage.getItem("rackplane.token")).toBe("rp_secret");
  expect(localStorage.length).toBe(0);
  expect(await screen.findByRole("link", { name: "eu-west" })).toBeTruthy();
  fireEvent.click(screen.getByRole("button", { name: "Sign out" }));
  expect(screen.getByLabelText("API token")).toBeTruthy();
  expect(sessionStorage.getItem("rackplane.token")).toBeNull();
});
