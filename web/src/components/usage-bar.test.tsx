import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";
import { UsageBar, usageLevel } from "./usage-bar";

afterEach(cleanup);

it("turns amber near the limit and red at it", () => {
  expect(usageLevel(10, 100)).toBe("ok");
  expect(usageLevel(79, 100)).toBe("ok");
  expect(usageLevel(80, 100)).toBe("near");
  expect(usageLevel(100, 100)).toBe("full");
  expect(usageLevel(120n, 100n)).toBe("full");
  expect(usageLevel(0, 0)).toBe("ok");
  expect(usageLevel(1, 0)).toBe("full");
});

it("shows used, limit and what is left, as a labelled meter", () => {
  const { container } = render(<UsageBar label="vCPUs" used={90n} limit={100n} />);
  expect(container.textContent).toContain("90 / 100 (10 left)");
  const meter = screen.getByRole("meter", { name: "vCPUs" });
  expect(meter.getAttribute("value")).toBe("90");
  expect(container.querySelector("[data-level]")!.getAttribute("data-level")).toBe("near");
});
