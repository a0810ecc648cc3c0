import { describe, expect, it } from "vitest";
import { maskedPatch } from "../../src/api/convert.js";
import { AbortedError, FailedPreconditionError, InvalidArgumentError } from "../../src/domain/errors.js";
import { etagOf, requireEtag } from "../../src/domain/etag.js";
import { newId } from "../../src/domain/ids.js";
import { requireRangeInRack, summariseUnits, tenantMayUseUnit, unitsUnavailable } from "../../src/domain/inventory.js";
import { decodePageToken, effectivePageSize, encodePageToken, uuidKeyPart } from "../../src/domain/page-token.js";
import { requireRole, type Principal } from "../../src/domain/principal.js";

describe("ids", () => {
  it("are UUIDv7 and sort by creation time", () => {
    const earlier = newId(1_700_000_000_000);
    const later = newId(1_700_000_000_001);
    expect(earlier).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(earlier < later).toBe(true);
  });
  it("do not repeat, and keep creation order within one millisecond", () => {
    const ids = Array.from({ length: 5000 }, () => newId(1_800_000_000_000));
    expect(new Set(ids).size).toBe(5000);
    expect([...ids].sort()).toEqual(ids);
  });
});

describe("page tokens", () => {
  const racks = { list: "rack", orderBy: "id asc", filter: 'name = "a"', scope: "" };
  const body = (token: string) => JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  const reencode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

  it("round-trip the key under the same binding (the filter compared trimmed)", () => {
    const id = newId();
    expect(decodePageToken(encodePageToken(racks, [id]), { ...racks, filter: ' name = "a" ' })).toEqual([id]);
    expect(decodePageToken("", racks)).toBeUndefined();
    const pair = [newId(), newId()];
    expect(decodePageToken(encodePageToken(racks, pair), racks, [uuidKeyPart, uuidKeyPart])).toEqual(pair);
  });
  it.each([
    ["garbage", "not-base64!!"],
    ["json that is not ours", Buffer.from('{"x":1}').toString("base64url")],
    ["a token of the old format", Buffer.from(`{"after":"${newId()}","filter":"x"}`).toString("base64url")],
    ["a non-uuid key", reencode({ v: 1, l: "rack", k: ["1; drop table"], b: "x", c: "y" })],
    ["a key of the wrong arity", reencode({ v: 1, l: "rack", k: [newId(), newId()], b: "x", c: "y" })],
  ])("refuse %s", (_, token) => {
    expect(() => decodePageToken(token, racks)).toThrowError(expect.objectContaining({ reason: "INVALID_PAGE_TOKEN" }));
  });
  it("refuse a token of another list, filter, order or scope, each saying so", () => {
    const token = encodePageToken(racks, [newId()]);
    expect(() => decodePageToken(token, { ...racks, list: "region" })).toThrowError(/another list \(rack\)/);
    expect(() => decodePageToken(token, { ...racks, filter: 'name = "b"' })).toThrowError(/different filter/);
    expect(() => decodePageToken(token, { ...racks, orderBy: "id desc" })).toThrowError(/different filter, order or scope/);
    expect(() => decodePageToken(token, { ...racks, scope: '{"tenantId":"t"}' })).toThrowError(/different filter, order or scope/);
  });
  it("refuse a hand-edited token: another id inside, or its list renamed", () => {
    const token = encodePageToken(racks, [newId()]);
    expect(() => decodePageToken(reencode({ ...body(token), k: [newId()] }), racks)).toThrowError(/altered/);
    expect(() => decodePageToken(reencode({ ...body(token), l: "region" }), { ...racks, list: "region" })).toThrowError(/altered/);
  });
  it("defaults and clamps the page size", () => {
    expect(effectivePageSize(0)).toBe(50);
    expect(effectivePageSize(10)).toBe(10);
    expect(effectivePageSize(5000)).toBe(1000);
  });
});

describe("etags", () => {
  it("accept the current version or none", () => {
    expect(() => requireEtag(3, etagOf(3), "rack", "r")).not.toThrow();
    expect(() => requireEtag(3, "", "rack", "r")).not.toThrow();
  });
  it("refuse a stale one with ABORTED", () => {
    expect(() => requireEtag(4, etagOf(3), "rack", "r")).toThrow(AbortedError);
  });
});

describe("rack units", () => {
  it("a range must fit the rack", () => {
    expect(() => requireRangeInRack({ first: 40, count: 3 }, 42)).not.toThrow();
    expect(() => requireRangeInRack({ first: 41, count: 3 }, 42)).toThrow(InvalidArgumentError);
  });
  it("a unit's own tenant list overrides the rack's", () => {
    const rack = { allowedTenantIds: ["a"] };
    expect(tenantMayUseUnit("a", rack, { allowedTenantIds: [] })).toBe(true);
    expect(tenantMayUseUnit("a", rack, { allowedTenantIds: ["b"] })).toBe(false);
    expect(tenantMayUseUnit("b", rack, { allowedTenantIds: ["b"] })).toBe(true);
    expect(tenantMayUseUnit("c", rack, { allowedTenantIds: [] })).toBe(false);
  });
  it("summarises statuses", () => {
    const units = ["FREE", "FREE", "RESERVED", "FAULTY", "OCCUPIED"].map((status) => ({ status }) as const);
    expect(summariseUnits(units as never)).toEqual({ unitsTotal: 5, unitsFree: 2, unitsReserved: 1, unitsOccupied: 1, unitsFaulty: 1 });
  });
  it("names every unit in the way", () => {
    const error = unitsUnavailable("r1", [
      { position: 3, status: "RESERVED" },
      { position: 4, status: "FAULTY" },
    ]);
    expect(error).toBeInstanceOf(FailedPreconditionError);
    expect(error.reason).toBe("RACK_UNITS_UNAVAILABLE");
    expect(error.metadata.conflicting_units).toBe("3,4");
    expect(error.message).toContain("U3 is RESERVED");
  });
});

describe("roles", () => {
  const member: Principal = { name: "m", role: "TENANT_MEMBER", tenantId: "t", tokenId: "x" };
  it("refuse roles not listed", () => {
    expect(() => requireRole(member, ["PLATFORM_ADMIN"], "do it")).toThrowError(expect.objectContaining({ code: "PERMISSION_DENIED" }));
    expect(() => requireRole(member, ["TENANT_MEMBER"], "do it")).not.toThrow();
  });
});

describe("update masks", () => {
  const updatable: Record<string, () => Partial<{ name: string; description: string }>> = {
    name: () => ({ name: "n" }),
    description: () => ({ description: "d" }),
  };
  it("take only the named fields", () => {
    expect(maskedPatch({ paths: ["name"] } as never, updatable)).toEqual({ name: "n" });
    expect(maskedPatch({ paths: ["*"] } as never, updatable)).toEqual({ name: "n", description: "d" });
  });
  it("refuse empty masks and unknown paths", () => {
    expect(() => maskedPatch({ paths: [] } as never, updatable)).toThrowError(expect.objectContaining({ reason: "INVALID_UPDATE_MASK" }));
    expect(() => maskedPatch({ paths: ["id"] } as never, updatable)).toThrowError(/cannot be updated/);
  });
});
