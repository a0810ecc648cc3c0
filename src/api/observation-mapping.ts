// Observations (issue 19) between the domain and the contract.
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  Health,
  HealthReasonKind,
  ObservationOutcome,
  type ObservationReport as ObservationReportMessage,
  ObservationSchema,
  PowerState,
} from "../../gen/es/rackplane/v1/observation_pb.js";
import type {
  HealthReasonKind as DomainReasonKind,
  ObservationOutcome as DomainOutcome,
  ObservationReport,
  ObservationView,
} from "../domain/observations.js";
import { timestamp } from "./convert.js";

/** A validated report (protovalidate has checked every field) as the domain reads it. */
export function observationReport(message: ObservationReportMessage): ObservationReport {
  const host = message.subject.case === "baremetalId";
  return {
    kind: host ? "baremetal" : "virtual_machine",
    id: message.subject.value ?? "",
    observeTime: timestampDate(message.observeTime!),
    powerState: message.powerState === PowerState.ON ? "ON" : "OFF",
    health: host ? (Health[message.health] as "OK" | "WARNING" | "CRITICAL") : null,
    reasons: message.reasons.map((reason) => ({ kind: HealthReasonKind[reason.kind] as DomainReasonKind, message: reason.message })),
    cpuPercent: message.cpuPercent,
    memoryUsedMib: Number(message.memoryUsedMib),
    storageUsedGib: Number(message.storageUsedGib),
  };
}

export function observationOutcome(outcome: DomainOutcome): ObservationOutcome {
  return ObservationOutcome[outcome];
}

export function observationMessage(view: ObservationView | undefined) {
  if (!view) return undefined;
  return create(ObservationSchema, {
    observeTime: timestamp(view.observeTime),
    age: durationFromMs(view.ageMillis),
    stale: view.stale,
    health: Health[view.effectiveHealth],
    reportedHealth: view.health === null ? Health.UNSPECIFIED : Health[view.health],
    reasons: view.reasons.map((reason) => ({ kind: HealthReasonKind[reason.kind], message: reason.message })),
    powerState: PowerState[view.powerState],
    cpuPercent: view.cpuPercent,
    memoryUsedMib: BigInt(view.memoryUsedMib),
    storageUsedGib: BigInt(view.storageUsedGib),
    drifted: view.drifted,
    driftRecordedState: view.driftRecordedState,
    driftStartTime: timestamp(view.driftSince),
  });
}
