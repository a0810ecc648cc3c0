// What each RPC acts on, declared beside its handlers: the resource type, how its request names the
// resource, and whether the call creates it. The interceptor fills the audit target from this before
// authentication and validation, so a call refused before its use case runs (bad input, no token, a
// role that may not) is still audited against its target; use cases overwrite it with what they
// learn. Every method of a service must have an entry (the type says so), and a test checks that
// every mutating method's entry names a resource.
import type { DescMethod, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";

/** The resource a request names, as the audit record will show it. */
export interface RequestTarget {
  readonly type: string;
  /** The resource's id, or "" for one that does not exist yet or a request that names none. */
  readonly id: string;
  readonly creates: boolean;
}

/** How one method's request names its target. */
export interface TargetRule<Request> {
  readonly type: string;
  readonly creates: boolean;
  readonly id: (request: Request) => unknown;
}

/** One entry per method of the service: a rule, or `reads` for a method that changes nothing. */
export type TargetRules<S extends GenService<GenServiceMethods>> = {
  readonly [K in keyof S["method"]]: TargetRule<MessageShape<S["method"][K]["input"]>> | typeof reads;
};

/** A method that changes nothing: it is never audited. */
export const reads = null;

/** Creates a resource of `type`: the use case picks its id. */
export function creates(type: string): TargetRule<unknown> {
  return { type, creates: true, id: () => "" };
}

/** Acts on the resource whose id the request's `id` field holds. */
export function byId(type: string): TargetRule<{ readonly id: string }> {
  return { type, creates: false, id: (request) => request.id };
}

/** Acts on a resource found elsewhere in the request. */
export function at<Request>(type: string, id: (request: Request) => unknown): TargetRule<Request> {
  return { type, creates: false, id };
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every service's rules, looked up by method descriptor. */
export class RequestTargets {
  private readonly rules = new Map<string, TargetRule<never> | null>();

  add<S extends GenService<GenServiceMethods>>(service: S, rules: TargetRules<S>): void {
    for (const method of service.methods) {
      this.rules.set(key(method), (rules as Record<string, TargetRule<never> | null>)[method.localName] ?? null);
    }
  }

  /** The target `message` names, or undefined for a method that changes nothing. An id that is not
   * a well-formed UUID names nothing: it is refused by validation, and must not reach the audit
   * trail as if it were one. */
  of(method: DescMethod, message: object | undefined): RequestTarget | undefined {
    const rule = this.rules.get(key(method));
    if (!rule) return undefined;
    const id = message === undefined ? undefined : rule.id(message as never);
    return { type: rule.type, id: typeof id === "string" && uuidPattern.test(id) ? id : "", creates: rule.creates };
  }

  /** Whether a rule was declared for the method (reads included). */
  has(method: DescMethod): boolean {
    return this.rules.has(key(method));
  }
}

function key(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}
