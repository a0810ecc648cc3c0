// rackplane.v1.ObservationService: what agents observed over time (issue 19, docs/observations.md).
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { ObservationService } from "../../gen/es/rackplane/v1/observation_pb.js";
import type { Database } from "../app/database.js";
import { listObservationHistory } from "../app/observations/history.js";
import { callContext, timestamp } from "./convert.js";
import { reads, type TargetRules } from "./request-targets.js";

export function observationService(db: Database): ServiceImpl<typeof ObservationService> {
  return {
    async listObservationHistory(req, ctx) {
      const host = req.resource.case === "baremetalId";
      const page = await listObservationHistory(db, callContext(ctx), {
        kind: host ? "baremetal" : "virtual_machine",
        id: req.resource.value ?? "",
        startTime: req.startTime ? timestampDate(req.startTime) : undefined,
        endTime: req.endTime ? timestampDate(req.endTime) : undefined,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return {
        points: page.points.map((point) => ({
          hourStartTime: timestamp(point.hourStart),
          sampleCount: point.sampleCount,
          cpuPercent: point.cpuPercent,
          memoryUsedMib: point.memoryUsedMib,
          storageUsedGib: point.storageUsedGib,
        })),
        nextPageToken: page.nextPageToken,
      };
    },
  };
}

export const observationTargets: TargetRules<typeof ObservationService> = {
  listObservationHistory: reads,
};
