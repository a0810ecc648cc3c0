// Every method of every served service declares what it acts on, and every method that changes
// something names a resource type: a new verb cannot reach the audit trail without its target.
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { requestTargets, served } from "../../src/server/routes.js";

const targets = requestTargets();
const methods = served.flatMap((route) => route.service.methods);

describe("request targets", () => {
  it("are declared for every method of every served service", () => {
    expect(methods.length).toBeGreaterThan(100);
    expect(methods.filter((method) => !targets.has(method)).map((method) => method.name)).toEqual([]);
  });

  it("name a resource type for every method that changes something, and none for reads", () => {
    const mutating = methods.filter((method) => method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS);
    expect(mutating.filter((method) => !targets.of(method, {})?.type).map((method) => method.name)).toEqual([]);
    const reading = methods.filter((method) => method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS);
    expect(reading.filter((method) => targets.of(method, {}) !== undefined).map((method) => method.name)).toEqual([]);
  });

  it("read the id the request names, and only a well-formed one", () => {
    const byName = (name: string) => methods.find((method) => method.name === name)!;
    const id = "0190c3a4-5b6d-7e8f-9a0b-1c2d3e4f5a6b";
    expect(targets.of(byName("UpdateRackUnit"), { unit: { rackId: id } })).toEqual({ type: "rack", id, creates: false });
    expect(targets.of(byName("UpdateRegion"), { region: { id } })).toEqual({ type: "region", id, creates: false });
    expect(targets.of(byName("DeleteRegion"), { id: "'; drop table region" })).toEqual({ type: "region", id: "", creates: false });
    expect(targets.of(byName("CreateToken"), { principal: "x" })).toEqual({ type: "api_token", id: "", creates: true });
    expect(targets.of(byName("AddGroupMember"), { groupId: id })).toEqual({ type: "maintainer_group", id, creates: false });
  });
});
