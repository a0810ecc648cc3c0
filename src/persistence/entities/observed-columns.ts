// A host's or VM's latest observation as read-only, lazy formula properties of its own entity, so a
// List filter can name them (`health = "CRITICAL"`, `observed.cpu_percent > 80`) like any column:
// each is a correlated look-up of the observation table's primary key, evaluated only when a
// filter names it. Effective health depends on the staleness limit, a process setting
// (RACKPLANE_OBSERVATION_STALE_SECONDS) the server sets once as it starts.
import { p } from "@mikro-orm/postgresql";
import type { ObservedKind } from "../../domain/observations.js";

// Process-wide, not per server: the formula's SQL comes from entity metadata every ORM in the
// process shares, and query-shapes.ts caches it per process.
let staleSeconds = 300;

/** Sets the age after which an observation reads as health UNKNOWN in filters. */
export function setObservationStaleSeconds(seconds: number): void {
  staleSeconds = Math.max(0, Math.floor(seconds));
}

export function observedColumns(kind: ObservedKind) {
  const latest = (expression: string, type: "string" | "double" | "bigint") =>
    p
      .formula((cols) => `(select ${expression} from observation o where o.resource_type = '${kind}' and o.resource_id = ${cols}.id)`)
      .type(type)
      .lazy()
      .persist(false);
  return {
    /** UNKNOWN with no observation or a stale one; a VM reported recently is OK. */
    observedHealth: p
      .formula(
        (cols) =>
          `coalesce((select case when o.observe_time < now() - make_interval(secs => ${staleSeconds}) then 'UNKNOWN' else coalesce(nullif(o.health, ''), 'OK') end from observation o where o.resource_type = '${kind}' and o.resource_id = ${cols}.id), 'UNKNOWN')`,
      )
      .type("string")
      .lazy()
      .persist(false),
    observedPowerState: latest("o.power_state", "string"),
    observedDrifted: p
      .formula(
        (cols) => `coalesce((select o.drifted from observation o where o.resource_type = '${kind}' and o.resource_id = ${cols}.id), false)`,
      )
      .type("boolean")
      .lazy()
      .persist(false),
    observedCpuPercent: latest("o.cpu_percent", "double"),
    observedMemoryUsedMib: latest("o.memory_used_mib", "bigint"),
    observedStorageUsedGib: latest("o.storage_used_gib", "bigint"),
  };
}
