import { describe, expect, it } from "vitest";
import { checkNewBaremetals, type BaremetalBatchFacts, type NewBaremetal } from "../../src/domain/baremetal-batch.js";
import type { CustomFieldDefinition } from "../../src/domain/hosts.js";

const rack = "0190a000-0000-7000-8000-000000000001";
const group = "0190a000-0000-7000-8000-000000000002";
const reservation = "0190a000-0000-7000-8000-000000000003";

/** A 10U rack: U1–U8 free, U9 reserved, U10 faulty. */
function facts(overrides: Partial<BaremetalBatchFacts> = {}): BaremetalBatchFacts {
  const units = new Map<number, { status: string; reservationId: string | null }>();
  for (let position = 1; position <= 8; position++) units.set(position, { status: "FREE", reservationId: null });
  units.set(9, { status: "RESERVED", reservationId: reservation });
  units.set(10, { status: "FAULTY", reservationId: null });
  return {
    customFields: [],
    takenNames: new Set(),
    takenSerials: new Set(),
    racks: new Map([[rack, { id: rack, heightUnits: 10, status: "ACTIVE" }]]),
    groups: new Set([group]),
    units: new Map([[rack, units]]),
    ...overrides,
  };
}

function host(name: string, firstPosition: number, extra: Partial<NewBaremetal> = {}): NewBaremetal {
  return {
    id: `id-${name}`,
    name,
    serialNumber: `SN-${name}`,
    groupId: group,
    placement: { rackId: rack, firstPosition, heightUnits: 2, reservationId: null },
    customFields: {},
    ...extra,
  };
}

const path = (index: number) => `requests[${index}].baremetal`;

/** Each item's problems as "field: description". */
function problemsOf(items: NewBaremetal[], given = facts()): string[][] {
  return checkNewBaremetals(items, given, path).problems.map((list) => list.map((p) => `${p.field}: ${p.description}`));
}

describe("the batch check of new hosts", () => {
  it("passes a clean batch and answers the units each host takes", () => {
    const check = checkNewBaremetals([host("a", 1), host("b", 3)], facts(), path);
    expect(check.problems).toEqual([[], []]);
    expect(check.mountings).toEqual([
      { baremetalId: "id-a", rackId: rack, firstPosition: 1, heightUnits: 2, reservationId: null },
      { baremetalId: "id-b", rackId: rack, firstPosition: 3, heightUnits: 2, reservationId: null },
    ]);
  });

  it("refuses a name or serial used twice in the batch at its second use, naming the first", () => {
    const problems = problemsOf([host("a", 1), host("a", 3, { serialNumber: "SN-a" })]);
    expect(problems[0]).toEqual([]);
    expect(problems[1]).toEqual([
      "requests[1].baremetal.name: ALREADY_EXISTS: also used by item 0 of this batch",
      "requests[1].baremetal.serial_number: ALREADY_EXISTS: also used by item 0 of this batch",
    ]);
  });

  it("refuses a name or serial an existing host has", () => {
    const problems = problemsOf([host("a", 1)], facts({ takenNames: new Set(["a"]), takenSerials: new Set(["SN-a"]) }));
    expect(problems[0]).toEqual([
      "requests[0].baremetal.name: ALREADY_EXISTS: a host named a exists",
      "requests[0].baremetal.serial_number: ALREADY_EXISTS: a host with serial SN-a exists",
    ]);
  });

  it("names a missing group and a missing rack, and checks no units of a missing rack", () => {
    const elsewhere = "0190a000-0000-7000-8000-0000000000ff";
    const check = checkNewBaremetals(
      [host("a", 1, { groupId: elsewhere, placement: { rackId: elsewhere, firstPosition: 1, heightUnits: 2, reservationId: null } })],
      facts(),
      path,
    );
    expect(check.problems[0]!.map((p) => p.description)).toEqual([
      `RESOURCE_NOT_FOUND: baremetal_group ${elsewhere} not found`,
      `RESOURCE_NOT_FOUND: rack ${elsewhere} not found`,
    ]);
    expect(check.mountings).toEqual([]);
  });

  it("refuses a decommissioned rack", () => {
    const decommissioned = facts({ racks: new Map([[rack, { id: rack, heightUnits: 10, status: "DECOMMISSIONED" }]]) });
    expect(problemsOf([host("a", 1)], decommissioned)[0]).toEqual([
      `requests[0].baremetal.placement.rack_id: RACK_DECOMMISSIONED: rack ${rack} is decommissioned`,
    ]);
  });

  it("counts units an earlier item of the batch takes as occupied", () => {
    const problems = problemsOf([host("a", 1), host("b", 2)]);
    expect(problems[0]).toEqual([]);
    expect(problems[1]).toEqual([
      `requests[1].baremetal.placement: RACK_UNITS_UNAVAILABLE: rack ${rack}: U2 is OCCUPIED by an earlier item of this batch`,
    ]);
  });

  it("takes a unit reserved by the reservation the host names, and no reserved, faulty or missing unit else", () => {
    const reserved = { rackId: rack, firstPosition: 9, heightUnits: 1, reservationId: reservation };
    expect(problemsOf([host("a", 9, { placement: reserved })])[0]).toEqual([]);
    const problems = problemsOf([host("b", 9, { placement: { ...reserved, reservationId: null, heightUnits: 3 } })]);
    expect(problems[0]).toEqual([
      `requests[0].baremetal.placement: RACK_UNITS_UNAVAILABLE: rack ${rack}: U9 is RESERVED for someone else, U10 is FAULTY, U11 is beyond the rack's 10 units`,
    ]);
  });

  it("checks custom fields against the definitions for hosts, required ones included", () => {
    const definition = (name: string, required: boolean): CustomFieldDefinition => ({
      id: name,
      name,
      type: "STRING",
      enumValues: [],
      required,
      resourceTypes: ["baremetal"],
      description: "",
      createTime: new Date(0),
    });
    const withFields = facts({ customFields: [definition("team", false), definition("owner", true)] });
    const problems = problemsOf([host("a", 1, { customFields: { team: 7, colour: "red" } })], withFields);
    expect(problems[0]).toEqual([
      "requests[0].baremetal.custom_fields.team: INVALID_CUSTOM_FIELD: wants a string of at most 1024 characters",
      'requests[0].baremetal.custom_fields.colour: INVALID_CUSTOM_FIELD: no custom field "colour" is defined for baremetal',
      "requests[0].baremetal.custom_fields.owner: INVALID_CUSTOM_FIELD: is required",
    ]);
  });
});
