// A standard resource is declared, not written: its declaration gives the five AIP standard methods
// (Create, Get, List, Update, Delete) the way every resource has them — the role check first; reads
// on plain rows (readById, listPage); each write one mutate() with its audit record, Create
// idempotent by request_id, Update and Delete on the row locked with its etag checked. A unique key
// a write breaks is ALREADY_EXISTS in mutate(). Only a resource's own rules are written by hand, as
// the declaration's `prepare` and `dependents`. The recipe: docs/architecture.md, "Adding a resource".
import type { EntityManager, EntityName } from "@mikro-orm/postgresql";
import { FailedPreconditionError } from "../domain/errors.js";
import type { FilterSchema } from "../domain/filter.js";
import type { Principal } from "../domain/principal.js";
import type { CallContext } from "./context.js";
import type { Database } from "./database.js";
import { listPage, type ListRequest, type Page } from "./list.js";
import { removeAssignments, resourceTypes } from "./maintainers/resources.js";
import { mutate } from "./mutation.js";
import { createOnce, findForChange, readById } from "./standard-methods.js";

/** Who may read a resource (Get, List) and who may change it (Create, Update, Delete): each throws
 * PERMISSION_DENIED for a principal that may not. */
export interface ResourceAccess {
  readonly read: (principal: Principal) => void;
  readonly write: (principal: Principal) => void;
}

/** Runs in a Delete's transaction once the row is locked and its etag checked: refuses the delete
 * (HAS_DEPENDENTS …) while something still needs the row, or, where `force` allows, removes or
 * releases what does. */
export type DependentCheck<Row> = (
  em: EntityManager,
  row: Row,
  deletion: { readonly type: string; readonly force: boolean },
) => Promise<void>;

export interface StandardResource<Row, Fields> {
  /** Names the resource in errors, audit records and idempotency keys: "region", "slot_group". */
  readonly type: string;
  readonly entity: EntityName<Row>;
  /** What List may filter on (AIP-160). */
  readonly filter: FilterSchema;
  readonly access: ResourceAccess;
  /** The resource's own rules for a new row, in Create's transaction before the insert (a parent
   * that must exist, values copied down from it): answers the row's columns. Without it, the fields
   * are stored as they come. */
  readonly prepare?: (em: EntityManager, fields: Fields) => Promise<object>;
  /** Checked in order before a row is deleted. A kind registered for maintainers
   * (app/maintainers/resources.ts) loses its assignments with the row, without saying so here. */
  readonly dependents?: readonly DependentCheck<Row>[];
}

/** The five standard methods; `Updatable` is what Update may change (a patch holds some of it). */
export interface StandardMethods<Row, Fields, Updatable = Fields> {
  readonly type: string;
  create(db: Database, ctx: CallContext, fields: Fields, requestId: string): Promise<Row>;
  get(db: Database, ctx: CallContext, id: string): Promise<Row>;
  list(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<Row>>;
  update(db: Database, ctx: CallContext, id: string, etag: string, patch: Partial<Updatable>): Promise<Row>;
  /** `force` as AIP-135 has it, for resources whose dependents may cascade. */
  delete(db: Database, ctx: CallContext, id: string, etag: string, force?: boolean): Promise<void>;
}

export function standardResource<Row extends { id: string; version: number }, Fields extends object, Updatable extends object = Fields>(
  resource: StandardResource<Row, Fields>,
): StandardMethods<Row, Fields, Updatable> {
  const { type, entity, filter, access } = resource;
  const maintained = resourceTypes().includes(type);
  const methods: StandardMethods<Row, Fields, Updatable> = {
    type,

    async create(db, ctx, fields, requestId) {
      access.write(ctx.principal);
      const id = await mutate(db, ctx, async (em) => {
        const columns = resource.prepare ? await resource.prepare(em, fields) : fields;
        return createOnce(em, ctx, type, requestId, fields, async (id) => {
          em.create(entity, { id, ...columns } as never);
        });
      });
      return methods.get(db, ctx, id);
    },

    async get(db, ctx, id) {
      access.read(ctx.principal);
      return readById(db.em(), entity, type, id);
    },

    async list(db, ctx, request) {
      access.read(ctx.principal);
      return listPage(db.em(), entity, request, filter);
    },

    async update(db, ctx, id, etag, patch) {
      target(ctx, type, id);
      access.write(ctx.principal);
      return mutate(db, ctx, async (em) => {
        const row = await findForChange(em, ctx, entity, type, id, etag);
        em.assign(row, patch as never);
        return row;
      });
    },

    async delete(db, ctx, id, etag, force = false) {
      target(ctx, type, id);
      access.write(ctx.principal);
      await mutate(db, ctx, async (em) => {
        const row = await findForChange(em, ctx, entity, type, id, etag);
        for (const check of resource.dependents ?? []) await check(em, row, { type, force });
        em.remove(row);
        if (maintained) await removeAssignments(em, type, [id]);
      });
    },
  };
  return methods;
}

/** Names the target before the role check, so a refused call's audit record names it too. */
function target(ctx: CallContext, type: string, id: string): void {
  ctx.audit.resourceType = type;
  ctx.audit.resourceId = id;
}

/**
 * Children that keep their parent (a region's datacenters): HAS_DEPENDENTS naming up to ten of
 * them, unless `force`, which deletes them with `cascade` (app/inventory/cascade.ts).
 */
export function blockingChildren<Row extends { id: string; name: string }, Child extends { id: string; name: string }>(children: {
  readonly entity: EntityName<Child>;
  /** The child's property holding the parent's id. */
  readonly parentKey: keyof Child & string;
  /** One child, in the message ("datacenter"); its plural with an s is the metadata key. */
  readonly noun: string;
  readonly cascade: (em: EntityManager, parent: Row, children: readonly Child[]) => Promise<void>;
}): DependentCheck<Row> {
  return async (em, parent, { type, force }) => {
    const found = (await em.find(children.entity, { [children.parentKey]: parent.id } as never, {
      fields: ["id", "name"] as never,
    })) as Child[];
    if (found.length === 0) return;
    if (!force) {
      const names = found
        .map((child) => child.name)
        .slice(0, 10)
        .join(", ");
      throw new FailedPreconditionError(
        "HAS_DEPENDENTS",
        `${type.replaceAll("_", " ")} ${parent.name} still has ${found.length} ${children.noun}(s): ${names}; delete them first or pass force`,
        { resource_type: type, resource_id: parent.id, [`${children.noun}s`]: String(found.length) },
      );
    }
    await children.cascade(em, parent, found);
  };
}
