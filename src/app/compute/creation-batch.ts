// Group commit for VM creations. Under load, creations that arrive while others are being written
// share one transaction: one round trip runs every creation's placement facts, the decisions are
// made here by the same rules as a creation alone, and a second round trip runs every creation's
// final statement and the COMMIT. The statements are the ones a creation alone runs; what a batch
// saves is a transaction and two round trips per creation (PostgreSQL's BEGIN, COMMIT and
// per-transaction locking, the pool and the socket work on both sides), which matters most when a
// backlog forms: the longer the queue, the larger the batch and the cheaper each creation.
//
// Correctness rests on the same guards as a creation alone (the quota row locked, candidates locked
// with SKIP LOCKED, the guarded host UPDATE), plus these rules of the batch:
// - A batch holds at most one creation per tenant, in tenant-id order, and locks all its quota rows
//   first, in that order, before any host: the lock order every path keeps (docs/compute.md, "Lock
//   order"), so it never holds a host while it waits for a quota row. It still waits at most
//   `waitAtMost` for any lock, a safety net (see there).
// - Creations of one batch may lock the same candidate hosts (a transaction does not skip its own
//   locks): each decision sees the free capacity the batch's earlier decisions left.
// - A creation for a tenant whose naming this server has not seen yet draws its name number in one
//   more round trip of the batch, after the facts showed the naming.
// - Anything a batch cannot decide with the facts it read — no fitting candidate left, a tenant's
//   naming changed since it was seen — runs alone once the batch has committed, as does every
//   creation of a batch that failed as a whole (a rolled-back batch changed nothing). A refused creation's drawn name number
//   is given back in the batch, so refusals leave no gaps, as when a creation alone rolls back.
//
// With no backlog every creation runs alone, exactly as without batching.
import { DomainError } from "../../domain/errors.js";
import type { Resources } from "../../domain/hosts.js";
import { newId } from "../../domain/ids.js";
import { candidatesLeft } from "../../domain/placement.js";
import { add } from "../../domain/quota.js";
import type { Statement } from "../../persistence/sql.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { pipelinedTransaction } from "../../persistence/pipelined-transaction.js";
import {
  createAlone,
  creationRecords,
  drawnName,
  drawNumber,
  drawStillNeeded,
  requireAvoidedFound,
  sequenceDraw,
  usableCatalogue,
  type CreateVirtualMachine,
  type Created,
} from "./creation.js";
import { choose, factsOf, placementFactsStatement, requireQuota, type SequenceDraw } from "./placement.js";

export interface BatchLimits {
  /** How many creation transactions (batches, or creations alone) one server runs at once. */
  readonly concurrentTransactions: number;
  /** The most creations one batch holds. */
  readonly batchSize: number;
}

/** In alternating runs of the placement benchmark, two transactions at once gave a shorter tail at
 * 500/s than four (more creations batch at moderate load) and the same throughput; one could not keep
 * both cores busy. Sixteen creations a batch: 32 did no better. */
const defaultLimits: BatchLimits = { concurrentTransactions: 2, batchSize: 16 };

interface Pending {
  readonly ctx: CallContext;
  readonly request: CreateVirtualMachine;
  readonly resolve: (created: Created) => void;
  readonly reject: (error: unknown) => void;
}

/** What became of one creation of a batch. */
type Outcome =
  | { readonly kind: "created"; readonly statement: Statement; readonly created: Created }
  | { readonly kind: "refused"; readonly error: DomainError }
  | { readonly kind: "alone" };

/** How many creations went which way, for /metrics. */
export interface CreationBatchStats {
  /** Transactions that held more than one creation. */
  batches: number;
  /** Creations committed in those transactions. */
  batched: number;
  /** Creations a batch handed on to run alone (no fitting candidate left, a name still to draw, or
   * the whole batch failed). */
  handedOn: number;
  /** Batches that failed as a whole and were retried creation by creation. */
  failedBatches: number;
}

export class CreationBatcher {
  private queue: Pending[] = [];
  private running = 0;
  readonly stats: CreationBatchStats = { batches: 0, batched: 0, handedOn: 0, failedBatches: 0 };

  constructor(
    private readonly db: Database,
    private readonly limits: BatchLimits = defaultLimits,
  ) {}

  /** Creates the VM, in a batch with others if some are waiting. */
  create(ctx: CallContext, request: CreateVirtualMachine): Promise<Created> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ctx, request, resolve, reject });
      this.startWaiting();
    });
  }

  private startWaiting(): void {
    while (this.running < this.limits.concurrentTransactions && this.queue.length > 0) {
      const batch = this.takeBatch();
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.startWaiting();
      });
    }
  }

  /** The oldest waiting creations, at most one per tenant, in tenant-id order. */
  private takeBatch(): Pending[] {
    const tenants = new Set<string>();
    const batch: Pending[] = [];
    const left: Pending[] = [];
    for (const pending of this.queue) {
      if (batch.length < this.limits.batchSize && !tenants.has(pending.request.tenantId)) {
        tenants.add(pending.request.tenantId);
        batch.push(pending);
      } else {
        left.push(pending);
      }
    }
    this.queue = left;
    return batch.sort((a, b) => (a.request.tenantId < b.request.tenantId ? -1 : a.request.tenantId > b.request.tenantId ? 1 : 0));
  }

  private async run(batch: readonly Pending[]): Promise<void> {
    if (batch.length === 1) return settle(batch[0]!, createAlone(this.db, batch[0]!.ctx, batch[0]!.request, ""));
    let outcomes: Outcome[];
    try {
      outcomes = await this.decideAndWrite(batch);
    } catch {
      // The batch rolled back whole: every creation runs alone, and meets whatever failed on its own.
      this.stats.failedBatches++;
      this.stats.handedOn += batch.length;
      for (const pending of batch) pending.ctx.audit.written = false;
      await Promise.all(batch.map((pending) => settle(pending, createAlone(this.db, pending.ctx, pending.request, ""))));
      return;
    }
    this.stats.batches++;
    const alone: Promise<void>[] = [];
    outcomes.forEach((outcome, i) => {
      const pending = batch[i]!;
      if (outcome.kind === "created") {
        this.stats.batched++;
        pending.ctx.audit.written = true;
        pending.resolve(outcome.created);
      } else if (outcome.kind === "refused") {
        pending.reject(outcome.error);
      } else {
        this.stats.handedOn++;
        alone.push(settle(pending, createAlone(this.db, pending.ctx, pending.request, "")));
      }
    });
    await Promise.all(alone);
  }

  /** One transaction: every creation's facts in one round trip, the decisions, then every final
   * statement (and the refused creations' name numbers given back) with the COMMIT. */
  private async decideAndWrite(batch: readonly Pending[]): Promise<Outcome[]> {
    return pipelinedTransaction(this.db.orm, async (tx) => {
      const draws = batch.map((pending) => sequenceDraw(pending.request));
      const [, , ...rows] = await tx.executeAll([
        waitAtMost,
        lockQuotas(batch),
        ...batch.map((pending, i) => placementFactsStatement(pending.request, draws[i])),
      ]);
      let found = batch.map((pending, i) => factsOf(pending.request, rows[i]!));
      // Tenants whose naming this server had not seen drew nothing with their facts: their numbers
      // are drawn now, in one more round trip of the same transaction, rather than each creation
      // running alone afterwards (at ten thousand tenants, most of a run's tenants are new to it).
      const late = batch.map((pending, i) => (draws[i] ? undefined : drawStillNeeded(found[i]!.tenant, pending.request)));
      const lateIndexes = late.flatMap((draw, i) => (draw ? [i] : []));
      if (lateIndexes.length > 0) {
        const drawnRows = await tx.executeAll(lateIndexes.map((i) => drawNumber(batch[i]!.request.tenantId, late[i]!.key)));
        found = found.map((each, i) => {
          const at = lateIndexes.indexOf(i);
          if (at < 0) return each;
          draws[i] = late[i];
          return { ...each, sequence: (drawnRows[at]![0] as { last_value: number }).last_value };
        });
      }
      const taken = new Map<string, Resources>();
      const giveBack: Statement[] = [];
      const outcomes = batch.map((pending, i): Outcome => {
        const facts = found[i]!;
        const drawn = draws[i] && facts.sequence !== undefined ? draws[i] : undefined;
        const outcome = decide(pending, facts, draws[i], taken);
        if (outcome.kind !== "created" && drawn) giveBack.push(returnNumber(pending.request.tenantId, drawn, facts.sequence!));
        return outcome;
      });
      const statements = [...outcomes.flatMap((outcome) => (outcome.kind === "created" ? [outcome.statement] : [])), ...giveBack];
      if (statements.length > 0) {
        tx.commitWithNext();
        await tx.executeAll(statements);
      }
      return outcomes;
    });
  }
}

/** How long a batch waits for a lock before it gives up and its creations run alone: a safety net.
 * The batch takes its quota rows before any host (`lockQuotas`), as every path does, but a batch
 * is many creations in one transaction, and one that waits long holds every row it already has.
 * Waiting at most this long, it gives up well before PostgreSQL's deadlock check (one second). A
 * lock held by an ordinary creation is free long before. */
const waitAtMost: Statement = { sql: "set local lock_timeout = '200ms'", params: [] };

/** Locks the quota row of every creation of the batch, in tenant-id order (the batch's order),
 * before the facts statements lock any host. A creation that names a host has its quota in that
 * host's group. */
function lockQuotas(batch: readonly Pending[]): Statement {
  const rows = batch.map(({ request }) =>
    "groupId" in request.target ? "(?::uuid, ?::uuid)" : "(?::uuid, (select group_id from baremetal where id = ?::uuid))",
  );
  return {
    sql: `select 1 from baremetal_group_tenant_quota where (tenant_id, group_id) in (values ${rows.join(", ")})
           order by tenant_id, group_id for update`,
    params: batch.flatMap(({ request }) => [
      request.tenantId,
      "groupId" in request.target ? request.target.groupId : request.target.baremetalId,
    ]),
  };
}

/** One creation's decision within a batch; `taken` holds what the batch's earlier decisions took
 * from each host, and gets this one's. */
function decide(
  pending: Pending,
  facts: ReturnType<typeof factsOf>,
  draw: SequenceDraw | undefined,
  taken: Map<string, Resources>,
): Outcome {
  const { ctx, request } = pending;
  const id = newId();
  ctx.audit.resourceType = "virtual_machine";
  ctx.audit.resourceId = id;
  try {
    const catalogue = usableCatalogue(facts, request);
    const name = drawnName(catalogue.tenant, request, draw, facts);
    if (name === undefined) return { kind: "alone" };
    requireAvoidedFound(facts, request.antiAffinity);
    const asked = catalogue.specification.resources;
    const group = requireQuota(request, facts, asked);
    const decision = choose(group, request, candidatesLeft(facts.candidates, taken, asked), asked);
    if (!decision) return { kind: "alone" };
    const before = taken.get(decision.baremetalId);
    taken.set(decision.baremetalId, before ? add(before, asked) : asked);
    return { kind: "created", ...creationRecords(ctx, request, id, name, catalogue, decision) };
  } catch (error) {
    if (error instanceof DomainError) return { kind: "refused", error };
    throw error;
  }
}

/** Gives back a name number drawn in this transaction: the row is locked by it since the draw, and
 * the batch drew nothing else from it (one creation per tenant), so the number is still the last. */
function returnNumber(tenantId: string, draw: SequenceDraw, value: number): Statement {
  return {
    sql: "update name_sequence set last_value = last_value - 1 where tenant_id = ? and prefix = ? and last_value = ?",
    params: [tenantId, draw.key, value],
  };
}

async function settle(pending: Pending, creation: Promise<Created>): Promise<void> {
  try {
    pending.resolve(await creation);
  } catch (error) {
    pending.reject(error);
  }
}

const batchers = new WeakMap<Database, CreationBatcher>();

/** The batcher of this server's database handle. */
export function creationBatcher(db: Database): CreationBatcher {
  let batcher = batchers.get(db);
  if (!batcher) {
    batcher = new CreationBatcher(db);
    batchers.set(db, batcher);
  }
  return batcher;
}
