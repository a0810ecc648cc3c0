import { expect, it } from "vitest";
import { quote } from "./format";
import { auditFilter } from "./pages/audit";
import { hostFilter } from "./pages/hosts";

it("builds the hosts' AIP-160 filter from the form", () => {
  expect(hostFilter({ status: "", groupId: "", freeCpu: "", expression: "" })).toBe("");
  expect(hostFilter({ status: "ACTIVE", groupId: "g-1", freeCpu: "16", expression: 'custom.team = "db"' })).toBe(
    'status = ACTIVE AND group_id = "g-1" AND free_cpu >= 16 AND (custom.team = "db")',
  );
});

it("builds the audit log's filter, quoting what people type", () => {
  expect(auditFilter({ principal: 'al"ice', method: "CreateRack", resourceType: "", result: "OK", since: "" })).toBe(
    'principal = "al\\"ice" AND method = "CreateRack" AND result = "OK"',
  );
  expect(quote("a\\b")).toBe('"a\\\\b"');
});
