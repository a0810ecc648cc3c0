// Sortable headers: ascending first, then descending, announced with aria-sort, and the order_by
// they send.
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, expect, it } from "vitest";
import { nextSort, orderBy, type Sort, SortHeader } from "./sort-header";

afterEach(cleanup);

it("sends the API's order_by", () => {
  expect(orderBy(undefined)).toBe("");
  expect(orderBy({ field: "free_cpu", descending: true })).toBe("free_cpu desc");
  expect(nextSort(undefined, "name")).toEqual({ field: "name", descending: false });
  expect(nextSort({ field: "name", descending: false }, "name")).toEqual({ field: "name", descending: true });
  expect(nextSort({ field: "name", descending: true }, "status")).toEqual({ field: "status", descending: false });
});

function Table({ seen }: { seen: string[] }) {
  const [sort, setSort] = useState<Sort | undefined>();
  const onSort = (next: Sort) => {
    seen.push(orderBy(next));
    setSort(next);
  };
  return (
    <table>
      <thead>
        <tr>
          <SortHeader field="name" sort={sort} onSort={onSort}>
            Name
          </SortHeader>
          <SortHeader field="free_cpu" sort={sort} onSort={onSort}>
            CPU free
          </SortHeader>
        </tr>
      </thead>
    </table>
  );
}

it("toggles a column and says which way it is sorted", () => {
  const seen: string[] = [];
  render(<Table seen={seen} />);
  const cpu = screen.getByRole("button", { name: "CPU free" });
  fireEvent.click(cpu);
  expect(screen.getByRole("columnheader", { name: /CPU free/ }).getAttribute("aria-sort")).toBe("ascending");
  fireEvent.click(cpu);
  expect(screen.getByRole("columnheader", { name: /CPU free/ }).getAttribute("aria-sort")).toBe("descending");
  expect(screen.getByRole("columnheader", { name: /Name/ }).getAttribute("aria-sort")).toBe("none");
  fireEvent.click(screen.getByRole("button", { name: "Name" }));
  expect(seen).toEqual(["free_cpu", "free_cpu desc", "name"]);
});
