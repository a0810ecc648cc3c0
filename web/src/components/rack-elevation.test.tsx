import { create } from "@bufbuild/protobuf";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";
import { GetRackElevationResponseSchema, RackUnitStatus } from "../../../gen/es/rackplane/v1/inventory_pb.js";
import { RackElevation } from "./rack-elevation";

afterEach(cleanup);

function rack42() {
  const units = Array.from({ length: 42 }, (_, i) => ({ position: i + 1, status: RackUnitStatus.FREE }));
  units[0] = {
    ...units[0]!,
    status: RackUnitStatus.OCCUPIED,
    occupant: { kind: "baremetal", id: "host-1", label: "node-a (ACTIVE)" },
  } as never;
  units[1] = {
    ...units[1]!,
    status: RackUnitStatus.OCCUPIED,
    occupant: { kind: "baremetal", id: "host-1", label: "node-a (ACTIVE)" },
  } as never;
  units[9] = { ...units[9]!, status: RackUnitStatus.RESERVED, occupant: { kind: "reservation", id: "r1", label: "GPU shelf" } } as never;
  units[41] = { ...units[41]!, status: RackUnitStatus.FAULTY, faultReason: "bent rail" } as never;
  return create(GetRackElevationResponseSchema, { rack: { name: "r-01", heightUnits: 42, asn: 65001 }, units });
}

it("draws every unit top first, with its host, reservation or fault", () => {
  const { container } = render(<RackElevation elevation={rack42()} />);
  const rows = container.querySelectorAll("g[data-position]");
  // 42 units, the host's two drawn as one block.
  expect(rows).toHaveLength(41);
  expect(rows[0]!.getAttribute("data-position")).toBe("42");
  expect(container.querySelectorAll("text.u-number")).toHaveLength(42);
  expect(rows[0]!.textContent).toContain("fault: bent rail");
  expect(container.querySelector('g[data-position="10"]')!.textContent).toContain("reserved: GPU shelf");
  const host = screen.getByRole("link", { name: /node-a/ });
  expect(host.getAttribute("aria-label")).toBe("U1–U2 node-a (ACTIVE)");
  expect(host.getAttribute("data-units")).toBe("2");
  expect(screen.getByRole("img", { name: /rack r-01, 42 units/ })).toBeTruthy();
});

it("opens a host from the keyboard", () => {
  render(<RackElevation elevation={rack42()} />);
  const host = screen.getByRole("link", { name: "U1–U2 node-a (ACTIVE)" });
  expect(host.getAttribute("tabindex")).toBe("0");
  fireEvent.keyDown(host, { key: "Enter" });
  expect(window.location.pathname).toBe("/hosts/host-1");
});
