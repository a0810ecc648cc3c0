// Maintainers (MNT-1): the people who look after resources. A second maintainer with the same
// account is ALREADY_EXISTS (the unique key, in mutate()).
import { FailedPreconditionError } from "../../domain/errors.js";
import { field, resourceTimes } from "../../domain/filter-schema.js";
import { maintainerStatuses, type Maintainer, type MaintainerStatus } from "../../domain/maintainer.js";
import { Maintainer as MaintainerEntity } from "../../persistence/entities/index.js";
import { standardResource } from "../standard-resource.js";
import { maintainerAccess } from "./access.js";

export interface MaintainerFields {
  readonly name: string;
  readonly account: string;
  readonly email: string;
  readonly phone: string;
  readonly chat: string;
  readonly status: MaintainerStatus;
}

export const maintainers = standardResource<Maintainer, MaintainerFields>({
  type: "maintainer",
  entity: MaintainerEntity,
  filter: {
    name: field.string("name"),
    account: field.string("account"),
    email: field.string("email"),
    status: field.enum("MAINTAINER_STATUS_", maintainerStatuses, "status"),
    ...resourceTimes,
  },
  access: maintainerAccess,
  // A maintainer goes with their memberships and assignments (the foreign keys cascade). A group
  // always has a manager, so a maintainer who manages one is refused until each such group has
  // another manager (UpdateMaintainerGroup). A group made to name this maintainer as manager
  // concurrently is caught by the manager foreign key (REFERENCE_CONFLICT), never left without one.
  dependents: [
    async (em, maintainer) => {
      const managed = await em.execute<{ id: string; name: string }[]>(
        `select id, name from maintainer_group where manager_id = ? order by id limit 21`,
        [maintainer.id],
      );
      if (managed.length === 0) return;
      const shown = managed.slice(0, 20);
      throw new FailedPreconditionError(
        "GROUP_MANAGER_REQUIRED",
        `maintainer ${maintainer.account} manages ${managed.length > 20 ? "more than 20" : managed.length} group(s): ` +
          `${shown.map((group) => group.name).join(", ")}; give each group another manager (UpdateMaintainerGroup) first`,
        {
          resource_type: "maintainer",
          resource_id: maintainer.id,
          group_ids: shown.map((group) => group.id).join(","),
          group_names: shown.map((group) => group.name).join(","),
        },
      );
    },
  ],
});
