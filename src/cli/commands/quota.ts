// `rackctl quota TENANT`: limits and use per host group and in total, as bars.
import { TenantService, type ResourceUsage } from "../../../gen/es/rackplane/v1/tenant_pb.js";
import type { GlobalOptions } from "../config.js";
import { connect } from "../connection.js";
import { usageBar } from "../format.js";
import { kindOf, resolveId } from "../resolve.js";

export async function run(tenant: string, options: GlobalOptions & { output?: string }): Promise<void> {
  const connection = connect(options);
  const tenantId = await resolveId(connection, kindOf("tenants"), tenant);
  const usage = await connection.client(TenantService).getTenantUsage({ tenantId });
  if (options.output === "json" || options.output === "yaml") {
    const { toJson } = await import("@bufbuild/protobuf");
    const { GetTenantUsageResponseSchema } = await import("../../../gen/es/rackplane/v1/tenant_pb.js");
    const json = toJson(GetTenantUsageResponseSchema, usage);
    process.stdout.write(options.output === "json" ? `${JSON.stringify(json, null, 2)}\n` : (await import("yaml")).stringify(json));
    return;
  }
  const line = (label: string, u: ResourceUsage | undefined) => `  ${label.padEnd(12)} ${u ? usageBar(u.used, u.limit) : "-"}\n`;
  let text = `tenant ${tenant}\n`;
  for (const group of usage.groups) {
    text += `\n${group.groupName}\n${line("cpu", group.cpu)}${line("memory MiB", group.memoryMib)}${line("storage GiB", group.storageGib)}`;
  }
  text += `\ntotal\n${line("cpu", usage.totalCpu)}${line("memory MiB", usage.totalMemoryMib)}${line("storage GiB", usage.totalStorageGib)}`;
  process.stdout.write(text);
}
