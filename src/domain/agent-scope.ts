// Agents are confined (API-6): an agent token's scope (datacenters, host groups, job kinds) is set
// by the admin who issues it; the agent's stream may only narrow it, and its reports count only
// inside it. The rules, without I/O: callers load the places (a host's datacenter and group).
import type { AgentTokenScope } from "./principal.js";

/** Where work happens: a job's or a VM's host group and its host's datacenter (null when unknown). */
export interface Place {
  readonly groupId: string | null;
  readonly datacenterId: string | null;
}

/** What a stream declares it serves; empty lists mean everything (its token allows). */
export interface StreamScope {
  readonly jobKinds: readonly string[];
  readonly groupIds: readonly string[];
  readonly baremetalIds: readonly string[];
}

/** True when the scope confines nothing: the whole fleet. */
export function isWholeFleet(scope: AgentTokenScope | undefined): boolean {
  return !scope || (scope.datacenterIds.length === 0 && scope.groupIds.length === 0 && scope.jobKinds.length === 0);
}

/** Whether a place lies inside the token's datacenters and groups. An unknown place (a job with no
 * host) lies inside only a scope that does not restrict that dimension. */
export function placeInScope(scope: AgentTokenScope | undefined, place: Place): boolean {
  if (!scope) return true;
  if (scope.datacenterIds.length > 0 && !includesId(scope.datacenterIds, place.datacenterId)) return false;
  if (scope.groupIds.length > 0 && !includesId(scope.groupIds, place.groupId)) return false;
  return true;
}

/** Whether a job of `kind` at `place` lies inside the token's scope. */
export function jobInScope(scope: AgentTokenScope | undefined, kind: string, place: Place): boolean {
  if (!scope) return true;
  if (scope.jobKinds.length > 0 && !scope.jobKinds.includes(kind)) return false;
  return placeInScope(scope, place);
}

/**
 * What a stream names outside its token's scope, by field (`job_kinds`, `group_ids`,
 * `baremetal_ids`); empty when the stream only narrows. `hosts` holds the place of each host the
 * stream names that exists; a host that does not is outside any scope that restricts places.
 * Empty lists in the stream ask for "all the token allows", which never widens.
 */
export function scopeExcess(
  scope: AgentTokenScope | undefined,
  stream: StreamScope,
  hosts: ReadonlyMap<string, Place>,
): Record<string, string[]> {
  if (isWholeFleet(scope) || !scope) return {};
  const excess: Record<string, string[]> = {};
  const add = (field: string, values: string[]) => {
    if (values.length > 0) excess[field] = values;
  };
  if (scope.jobKinds.length > 0)
    add(
      "job_kinds",
      stream.jobKinds.filter((kind) => !scope.jobKinds.includes(kind)),
    );
  if (scope.groupIds.length > 0)
    add(
      "group_ids",
      stream.groupIds.filter((id) => !includesId(scope.groupIds, id)),
    );
  const placesRestricted = scope.datacenterIds.length > 0 || scope.groupIds.length > 0;
  if (placesRestricted) {
    add(
      "baremetal_ids",
      stream.baremetalIds.filter((id) => {
        const place = hosts.get(id.toLowerCase());
        return !place || !placeInScope(scope, place);
      }),
    );
  }
  return excess;
}

function includesId(ids: readonly string[], id: string | null): boolean {
  if (id === null) return false;
  const wanted = id.toLowerCase();
  return ids.some((candidate) => candidate.toLowerCase() === wanted);
}
