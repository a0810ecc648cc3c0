// What a use case knows about the call it serves. Built by the transport from its own context
// values, so no proto or HTTP type reaches app/.
import type { Principal } from "../domain/principal.js";

/** The resource a mutation acts on. Use cases fill it in as soon as they know it, so that the audit
 * record of a refused or failed call still names its target. */
export interface AuditTarget {
  resourceType: string;
  resourceId: string;
  /** Why the change was made, when the caller said (a disable reason): kept as the record's message. */
  detail?: string;
  /** Set once the success record is written inside the mutation's transaction. */
  written: boolean;
}

export interface CallContext {
  readonly principal: Principal;
  /** Correlates logs and audit records (the x-request-id header, or one the server made up). */
  readonly requestId: string;
  /** The fully qualified RPC, e.g. "rackplane.v1.InventoryService/CreateRack". */
  readonly method: string;
  readonly audit: AuditTarget;
}
