// Maintainers and their groups; for a person or a group, everything they maintain (directly or
// through a group). Who maintains a host is on the host's page.
import { skipToken, useQuery } from "@connectrpc/connect-query";
import { MaintainerService } from "../../../gen/es/rackplane/v1/maintainer_pb.js";
import { PagerControls, usePager } from "../components/pager";
import { ErrorNotice } from "../errors";
import { shortId } from "../format";
import { Link } from "../router";

export function Maintainers() {
  const pager = usePager();
  const people = useQuery(MaintainerService.method.listMaintainers, { pageSize: 50, pageToken: pager.pageToken });
  const groups = useQuery(MaintainerService.method.listMaintainerGroups, { pageSize: 200 });
  return (
    <>
      <h1>Maintainers</h1>
      <ErrorNotice error={people.error ?? groups.error} />
      <div className="columns">
        <section className="column" aria-label="People">
          <h2>People</h2>
          <ul>
            {people.data?.maintainers.map((m) => (
              <li key={m.id}>
                <Link to={`/maintainers/people/${m.id}`}>{m.name}</Link> <span className="muted">{m.email}</span>
              </li>
            ))}
          </ul>
          <PagerControls pager={pager} nextPageToken={people.data?.nextPageToken} />
        </section>
        <section className="column" aria-label="Groups">
          <h2>Groups</h2>
          <ul>
            {groups.data?.groups.map((g) => (
              <li key={g.id}>
                <Link to={`/maintainers/groups/${g.id}`}>{g.name}</Link> <span className="muted">{g.memberCount} members</span>
              </li>
            ))}
          </ul>
        </section>
      </div>
    </>
  );
}

const resourceLinks: Record<string, string> = { baremetal: "/hosts/", rack: "/racks/", tenant: "/tenants/", virtual_machine: "/vms/" };

export function Maintained({ owner, id }: { owner: "maintainer" | "group"; id: string }) {
  const pager = usePager();
  const resources = useQuery(MaintainerService.method.listMaintainerResources, {
    owner: owner === "maintainer" ? { case: "maintainerId", value: id } : { case: "groupId", value: id },
    pageSize: 50,
    pageToken: pager.pageToken,
  });
  const person = useQuery(MaintainerService.method.getMaintainer, owner === "maintainer" ? { id } : skipToken);
  const group = useQuery(MaintainerService.method.getMaintainerGroup, owner === "group" ? { id } : skipToken);
  const name = owner === "maintainer" ? person.data?.maintainer?.name : group.data?.group?.name;
  return (
    <>
      <h1>Maintained by {name ?? shortId(id)}</h1>
      <ErrorNotice error={resources.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Resources maintained, page {pager.page}</caption>
          <thead>
            <tr>
              <th scope="col">Resource</th>
              <th scope="col">Kind</th>
              <th scope="col">Through</th>
            </tr>
          </thead>
          <tbody>
            {resources.data?.resources.map((r) => {
              const type = r.resource?.type ?? "";
              const link = resourceLinks[type];
              const label = r.resourceName || shortId(r.resource?.id ?? "");
              return (
                <tr key={`${r.assignment?.id}-${r.resource?.id}`}>
                  <td>{link ? <Link to={`${link}${r.resource?.id}`}>{label}</Link> : label}</td>
                  <td>{type}</td>
                  <td>{r.viaGroupName || "directly"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <PagerControls pager={pager} nextPageToken={resources.data?.nextPageToken} />
    </>
  );
}
