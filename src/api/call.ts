// The request-scoped values every handler and interceptor shares, declared in one place.
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { AuditTarget } from "../app/context.js";
import type { Principal } from "../domain/principal.js";

export interface CallState {
  readonly requestId: string;
  /** "rackplane.v1.InventoryService/CreateRack". */
  readonly method: string;
  /** performance.now() when the call opened. */
  readonly started: number;
  /** Set once the call has been logged, counted and (if a mutation) audited. */
  finished: boolean;
  principal: Principal | undefined;
  readonly audit: AuditTarget;
}

export const callKey = createContextKey<CallState | undefined>(undefined, { description: "rackplane call state" });

export function callState(ctx: HandlerContext): CallState {
  const state = ctx.values.get(callKey);
  if (!state) throw new Error("call state missing: the call interceptor did not run");
  return state;
}
