// Database functions, declared so that MikroORM's schema diff creates them (and keeps them).
import { Routine } from "@mikro-orm/core";

/**
 * `rackplane_require(ok, message)`: fails the statement it is in with serialization_failure (callers
 * answer ABORTED / CONCURRENT_CHANGE) unless `ok`. For a statement that commits in the same round
 * trip (see pipelined-transaction.ts), where a check in the application would come too late.
 */
export const rackplaneRequire = new Routine({
  name: "rackplane_require",
  type: "function",
  language: "plpgsql",
  params: { ok: { type: "boolean" }, message: { type: "text" } },
  returns: { runtimeType: "boolean", columnType: "boolean" },
  body: "begin if ok is not true then raise exception using errcode = 'serialization_failure', message = message; end if; return true; end",
});

export const routines = [rackplaneRequire];
