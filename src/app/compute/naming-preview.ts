// The name CreateVirtualMachine would give next from a tenant's naming rule, for a form to show
// before it is sent. A read: it looks at the tenant's sequence and draws nothing, so no number is
// used up, and a create in between may take the name first (the form then shows the next one).
import { NotFoundError } from "../../domain/errors.js";
import type { VirtualMachineRole } from "../../domain/compute.js";
import { defaultNamingTemplate, nameFor } from "../../domain/naming.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { requireTenantRead, requireTenantVisible } from "../tenants/access.js";
import { renderName } from "./creation.js";

export interface NamePreview {
  readonly name: string;
  readonly template: string;
  readonly pattern: string;
}

/** A tenant principal naming another tenant gets NOT_FOUND, as for one that does not exist. */
export async function previewVirtualMachineName(
  db: Database,
  ctx: CallContext,
  tenantId: string,
  role: VirtualMachineRole,
): Promise<NamePreview> {
  requireTenantRead(ctx.principal);
  requireTenantVisible(ctx.principal, tenantId);
  const em = db.em();
  const [tenant] = await em.execute<{ name: string; naming_template: string; naming_pattern: string }[]>(
    "select name, naming_template, naming_pattern from tenant where id = ?",
    [tenantId],
  );
  if (!tenant) throw new NotFoundError("tenant", tenantId);
  const { rendered, key } = renderName(tenant.name, tenant.naming_template, role);
  // The same key a create draws from (creation.ts); no row yet means the first number, 1.
  const [sequence] = await em.execute<{ last_value: string | number }[]>(
    "select last_value from name_sequence where tenant_id = ? and prefix = ?",
    [tenantId, key],
  );
  return {
    name: nameFor(rendered, Number(sequence?.last_value ?? 0) + 1),
    template: tenant.naming_template || defaultNamingTemplate,
    pattern: tenant.naming_pattern,
  };
}
