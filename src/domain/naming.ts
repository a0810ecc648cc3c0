// VM naming rules (VM-6): a template such as "{tenant}-{role}-{seq:03}" renders to a prefix and a
// sequence number; the number is drawn per (tenant, prefix) by the caller.
import { InvalidArgumentError } from "./errors.js";

export const defaultNamingTemplate = "{tenant}-vm-{seq:04}";
const placeholder = /\{(tenant|role|seq)(?::0?(\d))?\}/g;

export interface NamingContext {
  readonly tenant: string;
  /** Lower case, e.g. "worker"; "vm" when the VM has no role. */
  readonly role: string;
}

/** A template checked once: what comes before the sequence number (with placeholders filled in),
 * the number's padding, and what follows it. */
export interface RenderedTemplate {
  readonly prefix: string;
  readonly width: number;
  readonly suffix: string;
}

export function renderTemplate(template: string, context: NamingContext): RenderedTemplate {
  const source = template === "" ? defaultNamingTemplate : template;
  const sequences = [...source.matchAll(/\{seq(?::0?\d)?\}/g)];
  if (sequences.length !== 1) {
    throw new InvalidArgumentError("INVALID_NAMING_TEMPLATE", `naming template ${JSON.stringify(source)} must contain {seq} exactly once`, [
      { field: "naming_rule.template", description: "must contain {seq} or {seq:0N} exactly once" },
    ]);
  }
  const at = sequences[0]!.index!;
  const fill = (text: string) =>
    text.replace(placeholder, (_, name: string) => (name === "tenant" ? context.tenant : name === "role" ? context.role : ""));
  const width = Number(/\{seq(?::0?(\d))?\}/.exec(source)![1] ?? 0);
  return { prefix: fill(source.slice(0, at)), width, suffix: fill(source.slice(at + sequences[0]![0].length)) };
}

export function nameFor(rendered: RenderedTemplate, sequence: number): string {
  return `${rendered.prefix}${String(sequence).padStart(rendered.width, "0")}${rendered.suffix}`;
}

/** A name a request gives must match the tenant's pattern, when it has one (anchored). With
 * `validateOnly`, only checks that the pattern compiles. */
export function requireNameMatches(name: string, pattern: string, options: { validateOnly?: boolean } = {}): void {
  if (pattern === "") return;
  let expression: RegExp;
  try {
    // Compiled alone first: a pattern such as "a)|(b" is invalid, yet balances inside the anchoring
    // group below as ^(?:a)|(b)$ and would match any name that starts with "a".
    new RegExp(pattern);
    expression = new RegExp(`^(?:${pattern})$`);
  } catch {
    throw new InvalidArgumentError(
      "INVALID_NAMING_PATTERN",
      `the tenant's naming pattern ${JSON.stringify(pattern)} is not a valid regular expression`,
    );
  }
  if (options.validateOnly) return;
  if (!expression.test(name)) {
    throw new InvalidArgumentError(
      "NAME_DOES_NOT_MATCH_RULE",
      `name ${JSON.stringify(name)} does not match the tenant's naming pattern ${pattern}`,
      [{ field: "name", description: `must match ${pattern}` }],
    );
  }
}
