// The lifecycle engine's one extension point. Operations, jobs, agents' reports and cancellation are
// written once, over resources of any kind; what an operation's start and outcome do to its
// resource is each kind's own, registered here: one entry per kind of resource with a lifecycle (a
// VM today; a cluster, a node pool, a plugin next). Each entry lives with its kind
// (app/compute/vm-lifecycle.ts) and is registered by the composition root (app/lifecycles.ts).
import type { EntityManager } from "@mikro-orm/postgresql";
import type { JobKind } from "../../domain/operations.js";

/** What an outcome handler knows of the operation that ended. */
export interface OperationView {
  readonly id: string;
  readonly kind: JobKind;
  readonly resourceType: string;
  readonly resourceId: string;
  /** The resource's state before the operation, to return to when it is undone. */
  readonly previousState: string;
}

/** Facts an agent learned while doing the work. */
export interface Facts {
  readonly hypervisorId?: string;
  readonly ipAddresses?: readonly string[];
  /** A cluster's API server URL, from its bootstrap job. */
  readonly endpoint?: string;
}

/** A state an agent observed outside any job. */
export type ObservedState = "RUNNING" | "STOPPED" | "CRASHED";

/** Where a resource lives, for agents' scopes. */
export interface Place {
  readonly groupId: string | null;
  readonly baremetalId: string | null;
}

/** How operations move one kind of resource. Every handler runs inside the transaction that records
 * the operation's change, so the operation, the job and the resource move together; each must take
 * its locks in the one lock order (docs/compute.md). */
export interface Lifecycle {
  /** The operations' and jobs' `resource_type`: "virtual_machine". */
  readonly resourceType: string;
  /** The job kinds whose operations act on this kind. */
  readonly jobKinds: readonly JobKind[];
  /** An agent took the job. */
  markStarted(em: EntityManager, operation: OperationView): Promise<void>;
  /** The agent reported success, with what it learned. */
  applySuccess(em: EntityManager, operation: OperationView, facts: Facts): Promise<void>;
  /** The operation failed for good. */
  applyFailure(em: EntityManager, operation: OperationView): Promise<void>;
  /** The operation was cancelled before any agent took it. */
  undoQueued(em: EntityManager, operation: OperationView): Promise<void>;
  /** Where the resource lives, or undefined when it does not exist. */
  placeOf(em: EntityManager, resourceId: string): Promise<Place | undefined>;
  /** A state observed outside any job (with the agent's reason): returns the state the record now
   * holds, or refuses. */
  acceptObserved(em: EntityManager, resourceId: string, observed: ObservedState, reason: string): Promise<string>;
  /** Secrets a job of this kind needs, added to its payload only as an agent takes it, so the job
   * row never holds them (a cluster's bootstrap gets its CA's key). */
  deliveredSecrets?(
    em: EntityManager,
    job: { readonly kind: string; readonly resourceId: string },
    secrets: OpenSecrets,
  ): Promise<Record<string, unknown>>;
}

/** What delivering secrets needs of the server's secret box (app/kubernetes/secret-box.ts). */
export interface OpenSecrets {
  open(sealed: string, context: string): string;
}

const registry = new Map<string, Lifecycle>();

/** Adds a kind. Registering the same entry again changes nothing; another entry for a type that
 * has one is a programming error. */
export function registerLifecycle(lifecycle: Lifecycle): void {
  const existing = registry.get(lifecycle.resourceType);
  if (existing && existing !== lifecycle) throw new Error(`a lifecycle for ${lifecycle.resourceType} is registered already`);
  registry.set(lifecycle.resourceType, lifecycle);
}

export function lifecycleOf(resourceType: string): Lifecycle {
  const lifecycle = registry.get(resourceType);
  if (!lifecycle) throw new Error(`no lifecycle is registered for ${JSON.stringify(resourceType)}: register it in app/lifecycles.ts`);
  return lifecycle;
}

/** Whether a kind has a lifecycle: a report about any other kind names no resource. */
export function hasLifecycle(resourceType: string): boolean {
  return registry.has(resourceType);
}

export function registeredLifecycles(): readonly Lifecycle[] {
  return [...registry.values()];
}
