// How a refused call reads to a client: the status code and the google.rpc.ErrorInfo and
// google.rpc.BadRequest details every rackplane error carries.
import { ConnectError, type Code } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";

export interface Failure {
  code: Code;
  reason: string;
  metadata: Record<string, string>;
  /** The field paths of the BadRequest violations, if any. */
  fields: string[];
  message: string;
}

/** Awaits a call that must fail and answers what its error says; a success fails the test. */
export async function failure(call: Promise<unknown>): Promise<Failure> {
  try {
    await call;
  } catch (e) {
    const error = ConnectError.from(e);
    const [info] = error.findDetails(ErrorInfoSchema);
    const fields = error.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field) ?? [];
    return { code: error.code, reason: info?.reason ?? "", metadata: { ...(info?.metadata ?? {}) }, fields, message: error.rawMessage };
  }
  throw new Error("expected the call to fail, but it succeeded");
}
