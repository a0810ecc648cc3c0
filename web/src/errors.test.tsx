import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { describeError, ErrorNotice } from "./errors";

afterEach(cleanup);

const quotaError = () =>
  new ConnectError("tenant payments would use 40 of 32 vCPUs in group general", Code.ResourceExhausted, undefined, [
    { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: "QUOTA_EXCEEDED", domain: "rackplane.dev" }) },
  ]);

it("reads the ErrorInfo reason and the message", () => {
  expect(describeError(quotaError())).toEqual({
    code: "ResourceExhausted",
    reason: "QUOTA_EXCEEDED",
    message: "tenant payments would use 40 of 32 vCPUs in group general",
  });
});

it("shows them as an alert, the code standing in for a missing reason", () => {
  render(<ErrorNotice error={quotaError()} />);
  expect(screen.getByRole("alert").textContent).toBe("QUOTA_EXCEEDED: tenant payments would use 40 of 32 vCPUs in group general");
  cleanup();
  render(<ErrorNotice error={new ConnectError("no such rack", Code.NotFound)} />);
  expect(screen.getByRole("alert").textContent).toBe("NotFound: no such rack");
});
