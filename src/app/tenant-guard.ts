// TEN-2: a disabled tenant can neither create nor operate. Checked inside the mutation's
// transaction with a shared row lock, so a DisableTenant that commits first is seen, and one that
// comes later waits for the mutations already under way.
import type { Sql } from "../persistence/sql.js";
import { NotFoundError } from "../domain/errors.js";
import { tenantDisabled } from "../domain/tenant.js";

export async function requireTenantEnabled(sql: Sql, tenantId: string): Promise<void> {
  const [tenant] = await sql.execute<{ id: string; name: string; disabled: boolean; disabled_reason: string }[]>(
    "select id, name, disabled, disabled_reason from tenant where id = ? for share",
    [tenantId],
  );
  if (!tenant) throw new NotFoundError("tenant", tenantId);
  if (tenant.disabled) throw tenantDisabled({ id: tenant.id, name: tenant.name, disabledReason: tenant.disabled_reason });
}
