// Other resources name tenants (a token's tenant, the tenants allowed in a rack or unit). Each named
// tenant must exist when the reference is written. The rows are read FOR SHARE, so a DeleteTenant
// (which locks its row FOR UPDATE) either commits first and the reference is refused, or waits for
// this transaction and then finds the reference to remove.
import type { EntityManager } from "@mikro-orm/postgresql";
import { NotFoundError } from "../../domain/errors.js";

/** NOT_FOUND naming the first of `ids` (in the caller's order) that is not a tenant. */
export async function requireTenantsExist(em: EntityManager, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  // array[?] — MikroORM expands an array parameter into a comma list.
  const rows = await em.execute<{ id: string }[]>("select id from tenant where id = any(array[?]::uuid[]) for share", [[...ids]]);
  const found = new Set(rows.map((row) => row.id.toLowerCase()));
  const missing = ids.find((id) => !found.has(id.toLowerCase()));
  if (missing !== undefined) throw new NotFoundError("tenant", missing);
}
