// A sortable column header: a button that sorts by its field ascending, then descending, announced
// through aria-sort. The sort is the server's (AIP-132 order_by), so a change starts at page 1.
import type { ReactNode } from "react";

export interface Sort {
  readonly field: string;
  readonly descending: boolean;
}

/** The order_by a sort stands for; "" is the list's own order. */
export function orderBy(sort: Sort | undefined): string {
  return sort ? `${sort.field}${sort.descending ? " desc" : ""}` : "";
}

/** Clicking a column: ascending first, then the other way on each click. */
export function nextSort(sort: Sort | undefined, field: string): Sort {
  return sort?.field === field ? { field, descending: !sort.descending } : { field, descending: false };
}

export function SortHeader({
  field,
  sort,
  onSort,
  children,
}: {
  field: string;
  sort: Sort | undefined;
  onSort: (sort: Sort) => void;
  children: ReactNode;
}) {
  const active = sort?.field === field;
  const direction = active ? (sort.descending ? "descending" : "ascending") : "none";
  return (
    <th scope="col" aria-sort={direction}>
      <button type="button" className="sort" onClick={() => onSort(nextSort(sort, field))}>
        {children}
        <span aria-hidden="true">{active ? (sort.descending ? " ▼" : " ▲") : ""}</span>
      </button>
    </th>
  );
}
