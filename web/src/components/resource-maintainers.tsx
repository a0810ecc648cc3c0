// Who maintains a resource (people directly, or through a group), and for platform admins the
// controls to assign a maintainer or a group with a role and to remove an assignment, over
// CreateResourceMaintainer / DeleteResourceMaintainer. Removing a group's assignment removes all
// the people it brought, so the button names the group.
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { MaintainerRole, MaintainerService, type ResponsibleMaintainer } from "../../../gen/es/rackplane/v1/maintainer_pb.js";
import { ErrorNotice } from "../errors";
import { enumName } from "../format";
import { isPlatformAdmin, useCaller } from "../identity";
import { Link } from "../router";
import { Field } from "./field";

const roleName = (role: MaintainerRole) => enumName(MaintainerRole, role, "MAINTAINER_ROLE_");
const roles = [MaintainerRole.OWNER, MaintainerRole.ON_CALL, MaintainerRole.ESCALATION, MaintainerRole.TECHNICAL_CONTACT];

interface Assignment {
  readonly id: string;
  readonly role: MaintainerRole;
  /** The group's name for a group's assignment, else empty. */
  readonly group: string;
  readonly people: ResponsibleMaintainer[];
}

/** One entry per assignment: a person's own, or a group's with every member it brings. */
export function assignments(maintainers: readonly ResponsibleMaintainer[]): Assignment[] {
  const byId = new Map<string, Assignment>();
  for (const m of maintainers) {
    const id = m.assignment?.id ?? "";
    const entry = byId.get(id) ?? { id, role: m.assignment?.role ?? MaintainerRole.UNSPECIFIED, group: m.viaGroupName, people: [] };
    entry.people.push(m);
    byId.set(id, entry);
  }
  return [...byId.values()];
}

export function ResourceMaintainers({ type, id }: { type: string; id: string }) {
  const admin = isPlatformAdmin(useCaller());
  const queries = useQueryClient();
  const refresh = () => void queries.invalidateQueries();
  const list = useQuery(MaintainerService.method.listResourceMaintainers, { resource: { type, id }, pageSize: 200 });
  const unassign = useMutation(MaintainerService.method.deleteResourceMaintainer, { onSuccess: refresh });
  const entries = assignments(list.data?.maintainers ?? []);
  const [assigning, setAssigning] = useState(false);
  return (
    <section aria-label="Maintainers">
      <h2>Maintainers</h2>
      <ErrorNotice error={list.error ?? unassign.error} />
      <ul>
        {entries.map((a) => (
          <li key={a.id}>
            {a.group ? `${a.group}: ` : ""}
            {a.people.map((m, i) => (
              <span key={m.maintainer?.id}>
                {i > 0 && ", "}
                <Link to={`/maintainers/people/${m.maintainer?.id}`}>{m.maintainer?.name}</Link>
              </span>
            ))}{" "}
            <span className="badge">{roleName(a.role)}</span>{" "}
            {admin && (
              <button type="button" onClick={() => unassign.mutate({ id: a.id })} disabled={unassign.isPending}>
                Unassign {a.group || a.people[0]?.maintainer?.name}
              </button>
            )}
          </li>
        ))}
        {list.data && entries.length === 0 && <li>none</li>}
      </ul>
      {admin && (
        // Closed at first: the people and groups to choose from are read only when it opens, so a
        // rack's or host's page loads with one extra read, not three.
        <details className="card" onToggle={(event) => setAssigning(event.currentTarget.open)}>
          <summary>Assign a maintainer or group</summary>
          {assigning && <AssignMaintainer type={type} id={id} onAssigned={refresh} />}
        </details>
      )}
    </section>
  );
}

function AssignMaintainer({ type, id, onAssigned }: { type: string; id: string; onAssigned: () => void }) {
  const [assignee, setAssignee] = useState("");
  const [role, setRole] = useState(String(MaintainerRole.OWNER));
  const people = useQuery(MaintainerService.method.listMaintainers, { pageSize: 200 });
  const groups = useQuery(MaintainerService.method.listMaintainerGroups, { pageSize: 200 });
  const assign = useMutation(MaintainerService.method.createResourceMaintainer, {
    onSuccess: () => {
      setAssignee("");
      onAssigned();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    // "person:<id>" or "group:<id>", so one select offers both kinds.
    const [kind, assigneeId = ""] = assignee.split(":");
    assign.mutate({
      resourceMaintainer: {
        resource: { type, id },
        assignee: kind === "group" ? { case: "groupId", value: assigneeId } : { case: "maintainerId", value: assigneeId },
        role: Number(role),
      },
    });
  };
  return (
    <form className="inline" onSubmit={submit} aria-label="Assign a maintainer">
      <Field label="Maintainer or group">
        {(fieldId) => (
          <select id={fieldId} value={assignee} onChange={(e) => setAssignee(e.target.value)} required>
            <option value="">choose…</option>
            <optgroup label="Groups">
              {groups.data?.groups.map((g) => (
                <option key={g.id} value={`group:${g.id}`}>
                  {g.name}
                </option>
              ))}
            </optgroup>
            <optgroup label="People">
              {people.data?.maintainers.map((m) => (
                <option key={m.id} value={`person:${m.id}`}>
                  {m.name}
                </option>
              ))}
            </optgroup>
          </select>
        )}
      </Field>
      <Field label="Role">
        {(fieldId) => (
          <select id={fieldId} value={role} onChange={(e) => setRole(e.target.value)}>
            {roles.map((r) => (
              <option key={r} value={String(r)}>
                {roleName(r)}
              </option>
            ))}
          </select>
        )}
      </Field>
      <button type="submit" disabled={assign.isPending}>
        Assign
      </button>
      <ErrorNotice error={assign.error ?? people.error ?? groups.error} />
    </form>
  );
}
