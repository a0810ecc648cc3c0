// Hand-written equivalents of the protovalidate annotations for the hottest request messages. The
// annotations stay in the .proto and stay the contract; protovalidate evaluates them by reflection
// and CEL, which for a batch of 1,000 observations cost more server CPU than storing them. A quick
// check answers true only when protovalidate and the text rule (server/request-text.ts) would both
// find nothing; anything doubtful (a value near a bound, any rule broken) answers false, and the
// interceptor then validates the usual way, so a refusal reads exactly as it always did.
// tests/unit/quick-validation.test.ts holds each check to protovalidate's verdict.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Health, PowerState, ReportObservationsRequestSchema } from "../../gen/es/rackplane/v1/observation_pb.js";

/** A check that says "certainly valid" (true) or "let protovalidate decide" (false), at `nowMillis`. */
export type QuickCheck<Desc extends DescMessage> = (message: MessageShape<Desc>, nowMillis: number) => boolean;

/** protovalidate's `string.uuid` pattern. */
const uuid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const maxUsed = 1_099_511_627_776n;
/** `observe_time` is within a day of now (timestamp.within); a minute short of it, the check leaves
 * the verdict to protovalidate, whose clock is read a moment later. */
const withinSeconds = 86_400 - 60;

/** ReportObservationsRequest, as observation.proto annotates it. */
export const reportObservationsValid: QuickCheck<typeof ReportObservationsRequestSchema> = (request, nowMillis) => {
  const items = request.observations;
  if (items.length < 1 || items.length > 1000) return false;
  const nowSeconds = nowMillis / 1000;
  for (const item of items) {
    const subject = item.subject;
    // oneof subject required; each id a UUID. has(baremetal_id) ⇒ health OK/WARNING/CRITICAL, else unset.
    if (subject.case === "baremetalId") {
      if (item.health !== Health.OK && item.health !== Health.WARNING && item.health !== Health.CRITICAL) return false;
    } else if (subject.case === "virtualMachineId") {
      if (item.health !== Health.UNSPECIFIED) return false;
    } else return false;
    if (!uuid.test(subject.value)) return false;
    const time = item.observeTime;
    if (time === undefined || time.nanos < 0 || time.nanos > 999_999_999) return false;
    if (Math.abs(Number(time.seconds) + time.nanos / 1e9 - nowSeconds) > withinSeconds) return false;
    if (item.powerState !== PowerState.ON && item.powerState !== PowerState.OFF) return false;
    // NaN fails both comparisons, as it fails protovalidate's gte/lte.
    if (!(item.cpuPercent >= 0 && item.cpuPercent <= 100)) return false;
    if (item.memoryUsedMib > maxUsed || item.storageUsedGib > maxUsed) return false;
    if (item.reasons.length > 16) return false;
    for (const reason of item.reasons) {
      if (reason.kind < 1 || reason.kind > 4 || !Number.isInteger(reason.kind)) return false;
      // max_len counts code points; a string of at most 512 UTF-16 units has at most 512 of them.
      if (reason.message.length > 512 || reason.message.includes("\u0000")) return false;
    }
  }
  return true;
};

/** The request messages that have a quick check, by schema. */
export const quickChecks: ReadonlyMap<DescMessage, QuickCheck<never>> = new Map<DescMessage, QuickCheck<never>>([
  [ReportObservationsRequestSchema, reportObservationsValid as QuickCheck<never>],
]);
