// rackplane.v1.InventoryService, the host half: bare-metal hosts, host groups, custom fields.
import type { ServiceImpl } from "@connectrpc/connect";
import { BaremetalStatus, CustomFieldType, type InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import type { Database } from "../app/database.js";
import * as baremetals from "../app/hosts/baremetals.js";
import { type ObservationSettings, readObservations } from "../app/observations/latest.js";
import * as customFieldDefinitions from "../app/hosts/custom-fields.js";
import * as groups from "../app/hosts/groups.js";
import type { BaremetalStatus as DomainStatus, CustomFieldType as DomainFieldType } from "../domain/hosts.js";
import { callContext, listRequest, maskedPatch, required } from "./convert.js";
import { at, byId, creates, reads, type TargetRules } from "./request-targets.js";
import {
  baremetalFields,
  baremetalGroupMessage,
  baremetalMessage,
  customFieldDefinitionMessage,
  customFields,
  dimension,
  placement,
  resources,
  schedulingPolicy,
} from "./host-mapping.js";
import { datacenterMessage, rackMessage, rackUnitMessage, regionMessage, roomMessage } from "./inventory-mapping.js";

/** The methods of this half: hosts, host groups and custom fields. */
type HostMethods = Extract<
  keyof ServiceImpl<typeof InventoryService>,
  `${string}Baremetal${string}` | `${string}CustomFieldDefinition${string}`
>;

export function hostHandlers(db: Database, observations: ObservationSettings): Pick<ServiceImpl<typeof InventoryService>, HostMethods> {
  return {
    async createBaremetal(req, ctx) {
      return {
        baremetal: baremetalMessage(await baremetals.createBaremetal(db, callContext(ctx), baremetalFields(req.baremetal!), req.requestId)),
      };
    },
    async batchCreateBaremetals(req, ctx) {
      const created = await baremetals.batchCreateBaremetals(
        db,
        callContext(ctx),
        req.requests.map((item) => baremetalFields(item.baremetal!)),
      );
      return { baremetals: created.map((host) => baremetalMessage(host)) };
    },
    async getBaremetal(req, ctx) {
      // The observation is read beside the host (one round trip) and returned only with it.
      const [host, observed] = await Promise.all([
        baremetals.getBaremetal(db, callContext(ctx), req.id),
        readObservations(db, "baremetal", [req.id], observations),
      ]);
      return { baremetal: baremetalMessage(host, observed.get(host.id)) };
    },
    async listBaremetals(req, ctx) {
      const page = await baremetals.listBaremetals(db, callContext(ctx), { ...listRequest(req), orderBy: req.orderBy });
      const observed = await readObservations(
        db,
        "baremetal",
        page.items.map((host) => host.id),
        observations,
      );
      return { baremetals: page.items.map((host) => baremetalMessage(host, observed.get(host.id))), nextPageToken: page.nextPageToken };
    },
    async updateBaremetal(req, ctx) {
      const host = req.baremetal!;
      const updatable = {
        name: () => ({ name: required("baremetal.name", host.name) }),
        serial_number: () => ({ serialNumber: required("baremetal.serial_number", host.serialNumber) }),
        capacity: () => ({ capacity: resources(host.capacity) }),
        group_id: () => ({ groupId: host.groupId || null }),
        placement: () => ({ placement: placement(host.placement) }),
        custom_fields: () => ({ customFields: customFields(host.customFields) }),
        description: () => ({ description: host.description }),
      };
      // custom_fields.<name> sets one value, or removes it when the message has none.
      const paths = req.updateMask?.paths ?? [];
      const valueNames = paths.flatMap((path) => customFieldPath.exec(path)?.[1] ?? []);
      const otherPaths = paths.filter((path) => !customFieldPath.test(path));
      const patch =
        valueNames.length > 0 && otherPaths.length === 0
          ? {}
          : maskedPatch<baremetals.BaremetalPatch>({ ...req.updateMask!, paths: otherPaths }, updatable);
      const values = customFields(host.customFields);
      const merged: baremetals.BaremetalPatch =
        valueNames.length === 0
          ? patch
          : { ...patch, customFieldValues: Object.fromEntries(valueNames.map((name) => [name, values[name] ?? null])) };
      return { baremetal: baremetalMessage(await baremetals.updateBaremetal(db, callContext(ctx), host.id, host.etag, merged)) };
    },
    async deleteBaremetal(req, ctx) {
      await baremetals.deleteBaremetal(db, callContext(ctx), req.id, req.etag);
      return {};
    },
    async setBaremetalStatus(req, ctx) {
      const host = await baremetals.setBaremetalStatus(
        db,
        callContext(ctx),
        req.id,
        req.etag,
        BaremetalStatus[req.status] as DomainStatus,
        req.reason,
      );
      return { baremetal: baremetalMessage(host) };
    },
    async locateBaremetal(req, ctx) {
      const location = await baremetals.locateBaremetal(db, callContext(ctx), req.id);
      return {
        baremetal: baremetalMessage(location.baremetal),
        region: regionMessage(location.region),
        datacenter: datacenterMessage(location.datacenter),
        room: roomMessage(location.room),
        rack: rackMessage(location.rack),
        units: location.units.map((unit) => rackUnitMessage(unit)),
      };
    },

    async createBaremetalGroup(req, ctx) {
      const group = req.group!;
      const created = await groups.createBaremetalGroup(
        db,
        callContext(ctx),
        {
          name: group.name,
          description: group.description,
          dimension: dimension(group.dimension),
          scheduling: schedulingPolicy(group.scheduling),
        },
        req.requestId,
      );
      return { group: baremetalGroupMessage(created) };
    },
    async getBaremetalGroup(req, ctx) {
      return { group: baremetalGroupMessage(await groups.getBaremetalGroup(db, callContext(ctx), req.id)) };
    },
    async listBaremetalGroups(req, ctx) {
      const page = await groups.listBaremetalGroups(db, callContext(ctx), listRequest(req));
      return { groups: page.items.map(baremetalGroupMessage), nextPageToken: page.nextPageToken };
    },
    async updateBaremetalGroup(req, ctx) {
      const group = req.group!;
      const patch = maskedPatch<groups.BaremetalGroupFields>(req.updateMask, {
        name: () => ({ name: required("group.name", group.name) }),
        description: () => ({ description: group.description }),
        dimension: () => ({ dimension: dimension(group.dimension) }),
        scheduling: () => ({ scheduling: schedulingPolicy(group.scheduling) }),
      });
      return { group: baremetalGroupMessage(await groups.updateBaremetalGroup(db, callContext(ctx), group.id, group.etag, patch)) };
    },
    async deleteBaremetalGroup(req, ctx) {
      await groups.deleteBaremetalGroup(db, callContext(ctx), req.id, req.etag, req.force);
      return {};
    },

    async createCustomFieldDefinition(req, ctx) {
      const definition = req.definition!;
      const created = await customFieldDefinitions.createCustomFieldDefinition(db, callContext(ctx), {
        name: definition.name,
        type: CustomFieldType[definition.type] as DomainFieldType,
        enumValues: definition.enumValues,
        required: definition.required,
        resourceTypes: definition.resourceTypes,
        description: definition.description,
      });
      return { definition: customFieldDefinitionMessage(created) };
    },
    async listCustomFieldDefinitions(req, ctx) {
      const page = await customFieldDefinitions.listCustomFieldDefinitions(db, callContext(ctx), {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        filter: "",
      });
      return { definitions: page.items.map(customFieldDefinitionMessage), nextPageToken: page.nextPageToken };
    },
    async deleteCustomFieldDefinition(req, ctx) {
      await customFieldDefinitions.deleteCustomFieldDefinition(db, callContext(ctx), req.id);
      return {};
    },
  };
}

const customFieldPath = /^custom_fields\.([a-z][a-z0-9_]*)$/;

export const hostTargets: Pick<TargetRules<typeof InventoryService>, HostMethods> = {
  createBaremetal: creates("baremetal"),
  batchCreateBaremetals: creates("baremetal"),
  getBaremetal: reads,
  listBaremetals: reads,
  updateBaremetal: at("baremetal", (request) => request.baremetal?.id),
  deleteBaremetal: byId("baremetal"),
  setBaremetalStatus: byId("baremetal"),
  locateBaremetal: reads,
  createBaremetalGroup: creates("baremetal_group"),
  getBaremetalGroup: reads,
  listBaremetalGroups: reads,
  updateBaremetalGroup: at("baremetal_group", (request) => request.group?.id),
  deleteBaremetalGroup: byId("baremetal_group"),
  createCustomFieldDefinition: creates("custom_field_definition"),
  listCustomFieldDefinitions: reads,
  deleteCustomFieldDefinition: byId("custom_field_definition"),
};
