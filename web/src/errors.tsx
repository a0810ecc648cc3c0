// Errors as the API states them: the stable ErrorInfo reason and the message, shown where the action
// was taken (role="alert" so screen readers announce them).
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";

export interface ErrorSummary {
  readonly code: string;
  readonly reason: string;
  readonly message: string;
}

export function describeError(error: unknown): ErrorSummary {
  const connectError = ConnectError.from(error);
  const info = connectError.findDetails(ErrorInfoSchema)[0];
  return {
    code: Code[connectError.code] ?? String(connectError.code),
    reason: info?.reason ?? "",
    message: connectError.rawMessage,
  };
}

export function ErrorNotice({ error }: { error: unknown }) {
  if (!error) return null;
  const { code, reason, message } = describeError(error);
  return (
    <div role="alert" className="error">
      <strong>{reason || code}</strong>: {message}
    </div>
  );
}
