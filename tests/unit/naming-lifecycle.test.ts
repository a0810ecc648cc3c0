// VM naming rules (VM-6) and the VM lifecycle state machine (VM-4): example tests for the edges and
// fast-check properties for the rules.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  lifecycle,
  requireTransition,
  virtualMachineStates,
  type LifecycleVerb,
  type VirtualMachineState,
} from "../../src/domain/compute.js";
import { DomainError, FailedPreconditionError, InvalidArgumentError } from "../../src/domain/errors.js";
import { defaultNamingTemplate, nameFor, renderTemplate, requireNameMatches, type NamingContext } from "../../src/domain/naming.js";

/** The error `run` throws; fails the test when it does not throw a DomainError. */
function thrown(run: () => unknown): DomainError {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error("expected a DomainError, nothing was thrown");
}

const acme: NamingContext = { tenant: "acme", role: "worker" };

// ---- naming ---------------------------------------------------------------------------------------

describe("renderTemplate and nameFor (VM-6)", () => {
  it("renders the example of the requirement", () => {
    const rendered = renderTemplate("{tenant}-{role}-{seq:03}", acme);
    expect(rendered).toEqual({ prefix: "acme-worker-", width: 3, suffix: "" });
    expect(nameFor(rendered, 7)).toBe("acme-worker-007");
    expect(nameFor(rendered, 42)).toBe("acme-worker-042");
    expect(nameFor(rendered, 1234)).toBe("acme-worker-1234");
  });

  it("fills placeholders after the sequence too, and repeats them as often as written", () => {
    const rendered = renderTemplate("{role}{seq}-{tenant}-{tenant}", { tenant: "t1", role: "vm" });
    expect(rendered).toEqual({ prefix: "vm", width: 0, suffix: "-t1-t1" });
    expect(nameFor(rendered, 5)).toBe("vm5-t1-t1");
  });

  it("reads the width with or without the leading zero", () => {
    expect(renderTemplate("n-{seq:3}", acme).width).toBe(3);
    expect(renderTemplate("n-{seq:03}", acme).width).toBe(3);
    expect(renderTemplate("n-{seq:0}", acme).width).toBe(0);
    expect(renderTemplate("n-{seq:09}", acme).width).toBe(9);
    expect(renderTemplate("{seq}", acme)).toEqual({ prefix: "", width: 0, suffix: "" });
  });

  it("falls back to the default template for the empty one", () => {
    expect(defaultNamingTemplate).toBe("{tenant}-vm-{seq:04}");
    const rendered = renderTemplate("", acme);
    expect(rendered).toEqual({ prefix: "acme-vm-", width: 4, suffix: "" });
    expect(nameFor(rendered, 1)).toBe("acme-vm-0001");
  });

  it("takes tenant and role values literally, even with $ or braces in them", () => {
    const rendered = renderTemplate("{tenant}-{role}-{seq}", { tenant: "a$&b", role: "{seq}" });
    expect(rendered).toEqual({ prefix: "a$&b-{seq}-", width: 0, suffix: "" });
  });

  it.each([
    ["no sequence", "{tenant}-{role}"],
    ["a literal without placeholders", "web"],
    ["two sequences", "{tenant}-{seq}-{seq:02}"],
    ["the same sequence twice", "{seq}{seq}"],
    ["a malformed sequence", "{tenant}-{seq:}"],
    ["a two-digit width", "{tenant}-{seq:10}"],
    ["an unclosed sequence", "{tenant}-{seq"],
  ])("refuses a template with %s (INVALID_NAMING_TEMPLATE)", (_, template) => {
    const error = thrown(() => renderTemplate(template, acme));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.reason).toBe("INVALID_NAMING_TEMPLATE");
    expect((error as InvalidArgumentError).violations).toEqual([expect.objectContaining({ field: "naming_rule.template" })]);
  });

  // Templates over the wire alphabet (^[a-z0-9{}:-]*$) built from pieces with a known rendering.
  const literalArb = fc.stringMatching(/^[a-z0-9:-]{0,6}$/);
  const pieceArb = fc.oneof(
    literalArb.map((text) => ({ text, render: (_: NamingContext) => text })),
    fc.constant({ text: "{tenant}", render: (c: NamingContext) => c.tenant }),
    fc.constant({ text: "{role}", render: (c: NamingContext) => c.role }),
  );
  const seqArb = fc.oneof(
    fc.constant({ text: "{seq}", width: 0 }),
    fc.integer({ min: 0, max: 9 }).map((n) => ({ text: `{seq:0${n}}`, width: n })),
    fc.integer({ min: 0, max: 9 }).map((n) => ({ text: `{seq:${n}}`, width: n })),
  );
  const contextArb = fc.record({
    tenant: fc.stringMatching(/^[a-z0-9-]{1,12}$/),
    role: fc.constantFrom("vm", "worker", "control-plane", "management", "bastion"),
  });
  const templateArb = fc.record({ before: fc.array(pieceArb, { maxLength: 4 }), seq: seqArb, after: fc.array(pieceArb, { maxLength: 4 }) });

  it("property: name = prefix + zero-padded sequence + suffix, the padding is at least the width, the sequence reads back", () => {
    fc.assert(
      fc.property(templateArb, contextArb, fc.nat(10_000_000), ({ before, seq, after }, context, sequence) => {
        const template = [...before.map((p) => p.text), seq.text, ...after.map((p) => p.text)].join("");
        fc.pre(template !== "");
        const prefix = before.map((p) => p.render(context)).join("");
        const suffix = after.map((p) => p.render(context)).join("");
        const rendered = renderTemplate(template, context);
        expect(rendered).toEqual({ prefix, width: seq.width, suffix });
        const name = nameFor(rendered, sequence);
        expect(name.startsWith(prefix)).toBe(true);
        expect(name.endsWith(suffix)).toBe(true);
        const digits = name.slice(prefix.length, name.length - suffix.length);
        expect(digits).toMatch(/^\d+$/);
        expect(digits.length).toBe(Math.max(seq.width, String(sequence).length));
        expect(Number(digits)).toBe(sequence);
      }),
      { numRuns: 1000 },
    );
  });

  it("property: distinct sequence numbers give distinct names under one template", () => {
    fc.assert(
      fc.property(
        templateArb,
        contextArb,
        fc.uniqueArray(fc.nat(100_000), { minLength: 2, maxLength: 50 }),
        ({ before, seq, after }, context, sequences) => {
          const template = [...before.map((p) => p.text), seq.text, ...after.map((p) => p.text)].join("");
          const rendered = renderTemplate(template, context);
          expect(new Set(sequences.map((s) => nameFor(rendered, s))).size).toBe(sequences.length);
        },
      ),
    );
  });

  it("property: a template without exactly one {seq} is refused", () => {
    fc.assert(
      fc.property(
        fc.array(pieceArb, { maxLength: 6 }),
        fc.array(seqArb, { minLength: 2, maxLength: 3 }),
        fc.boolean(),
        contextArb,
        (pieces, seqs, none, context) => {
          const template = none ? pieces.map((p) => p.text).join("") : [...pieces.map((p) => p.text), ...seqs.map((s) => s.text)].join("-");
          fc.pre(template !== "");
          expect(thrown(() => renderTemplate(template, context)).reason).toBe("INVALID_NAMING_TEMPLATE");
        },
      ),
    );
  });
});

describe("requireNameMatches (VM-6)", () => {
  it("accepts any name when the tenant has no pattern", () => {
    expect(() => requireNameMatches("anything at all", "")).not.toThrow();
  });

  it("anchors the pattern at both ends", () => {
    expect(() => requireNameMatches("web-1", "web-\\d+")).not.toThrow();
    expect(() => requireNameMatches("web-123", "web-\\d+")).not.toThrow();
    for (const name of ["xweb-1", "web-1x", "web-", "xweb-1x"]) {
      const error = thrown(() => requireNameMatches(name, "web-\\d+"));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.reason).toBe("NAME_DOES_NOT_MATCH_RULE");
      expect((error as InvalidArgumentError).violations).toEqual([expect.objectContaining({ field: "name" })]);
    }
  });

  it("anchors every alternative, not just the first and the last", () => {
    expect(() => requireNameMatches("db", "web|db")).not.toThrow();
    expect(thrown(() => requireNameMatches("webx", "web|db")).reason).toBe("NAME_DOES_NOT_MATCH_RULE");
    expect(thrown(() => requireNameMatches("xdb", "web|db")).reason).toBe("NAME_DOES_NOT_MATCH_RULE");
  });

  it.each(["(", "[a-", "web-\\", "*", "a{2,1}"])("refuses the invalid pattern %j (INVALID_NAMING_PATTERN)", (pattern) => {
    const error = thrown(() => requireNameMatches("web-1", pattern));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.reason).toBe("INVALID_NAMING_PATTERN");
  });

  it.each(["a)|(b", "a)(?:b", "x)|(?:.*"])("refuses %j, invalid on its own though it balances inside the anchoring group", (pattern) => {
    // Without this, "a)|(b" became ^(?:a)|(b)$ and let any name starting with "a" through.
    expect(thrown(() => requireNameMatches("abc", pattern)).reason).toBe("INVALID_NAMING_PATTERN");
    expect(thrown(() => requireNameMatches("anything", pattern)).reason).toBe("INVALID_NAMING_PATTERN");
  });

  it("property: a literal pattern matches exactly itself — nothing before, nothing after", () => {
    const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ minLength: 1, maxLength: 3 }), (literal, extra) => {
        const pattern = escapeRegExp(literal);
        expect(() => requireNameMatches(literal, pattern)).not.toThrow();
        expect(thrown(() => requireNameMatches(extra + literal, pattern)).reason).toBe("NAME_DOES_NOT_MATCH_RULE");
        expect(thrown(() => requireNameMatches(literal + extra, pattern)).reason).toBe("NAME_DOES_NOT_MATCH_RULE");
      }),
      { numRuns: 500 },
    );
  });

  it("property: generated names pass a pattern written for the template", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/),
        fc.integer({ min: 0, max: 9 }),
        fc.nat(1_000_000),
        (tenant, width, sequence) => {
          const name = nameFor(renderTemplate(`{tenant}-{role}-{seq:0${width}}`, { tenant, role: "worker" }), sequence);
          expect(() => requireNameMatches(name, "[a-z][a-z0-9]*-worker-\\d+")).not.toThrow();
        },
      ),
    );
  });
});

// ---- lifecycle ------------------------------------------------------------------------------------

describe("requireTransition (VM-4)", () => {
  const verbs = ["START", "STOP", "REBOOT", "DELETE"] as const satisfies readonly LifecycleVerb[];
  const ok = "OK";
  const bad = "INVALID_STATE";
  /** Written out by hand rather than read from `lifecycle`, so a change to the machine shows up here. */
  const expected: Record<VirtualMachineState, Record<LifecycleVerb, typeof ok | typeof bad>> = {
    PENDING: { START: bad, STOP: bad, REBOOT: bad, DELETE: ok },
    PROVISIONING: { START: bad, STOP: bad, REBOOT: bad, DELETE: bad },
    RUNNING: { START: bad, STOP: ok, REBOOT: ok, DELETE: ok },
    STOPPED: { START: ok, STOP: bad, REBOOT: bad, DELETE: ok },
    REBOOTING: { START: bad, STOP: bad, REBOOT: bad, DELETE: bad },
    DELETING: { START: bad, STOP: bad, REBOOT: bad, DELETE: bad },
    DELETED: { START: bad, STOP: bad, REBOOT: bad, DELETE: bad },
    ERROR: { START: bad, STOP: bad, REBOOT: bad, DELETE: ok },
  };

  it("the table covers every state and every verb", () => {
    expect(Object.keys(expected).sort()).toEqual([...virtualMachineStates].sort());
    expect([...verbs].sort()).toEqual(Object.keys(lifecycle).sort());
  });

  const cases = virtualMachineStates.flatMap((state) => verbs.map((verb) => [state, verb, expected[state][verb]] as const));

  it.each(cases)("%s + %s → %s", (state, verb, outcome) => {
    const vm = { id: "vm-1", state, activeOperationId: null };
    if (outcome === ok) {
      expect(() => requireTransition(vm, verb)).not.toThrow();
      return;
    }
    const error = thrown(() => requireTransition(vm, verb));
    expect(error).toBeInstanceOf(FailedPreconditionError);
    expect(error.code).toBe("FAILED_PRECONDITION");
    expect(error.reason).toBe("INVALID_STATE");
    expect(error.metadata).toEqual({ virtual_machine_id: "vm-1", state, allowed_states: lifecycle[verb].from.join(",") });
    expect(error.message).toContain(state);
  });

  it("treats a missing, null or empty active operation as none", () => {
    expect(() => requireTransition({ id: "v", state: "STOPPED" }, "START")).not.toThrow();
    expect(() => requireTransition({ id: "v", state: "STOPPED", activeOperationId: null }, "START")).not.toThrow();
    expect(() => requireTransition({ id: "v", state: "STOPPED", activeOperationId: "" }, "START")).not.toThrow();
  });

  it("property: any verb in any state with an operation under way → OPERATION_IN_PROGRESS, naming the operation and the state", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...virtualMachineStates),
        fc.constantFrom(...verbs),
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.uuid(),
        (state, verb, operationId, id) => {
          const error = thrown(() => requireTransition({ id, state, activeOperationId: operationId }, verb));
          expect(error).toBeInstanceOf(FailedPreconditionError);
          expect(error.reason).toBe("OPERATION_IN_PROGRESS");
          expect(error.metadata).toEqual({ virtual_machine_id: id, operation_id: operationId, state });
        },
      ),
      { numRuns: 500 },
    );
  });

  it("property: without an operation the outcome depends only on state and verb, and matches the table", () => {
    fc.assert(
      fc.property(fc.constantFrom(...virtualMachineStates), fc.constantFrom(...verbs), fc.uuid(), (state, verb, id) => {
        let outcome: string = ok;
        try {
          requireTransition({ id, state }, verb);
        } catch (error) {
          outcome = (error as DomainError).reason;
        }
        expect(outcome).toBe(expected[state][verb]);
      }),
    );
  });

  it("no verb starts from an operation's in-between state (REBOOTING, DELETING)", () => {
    for (const verb of verbs) {
      const during = lifecycle[verb].during as VirtualMachineState | undefined;
      if (during) for (const next of verbs) expect(expected[during][next]).toBe(bad);
    }
  });
});
