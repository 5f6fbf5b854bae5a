import type { Kysely } from 'kysely';
import type { AppConfig } from '../config.js';
import {
  anyBaselined,
  anyDismissed,
  anyEntryToFind,
  findCredited,
  findDismissed,
  insertPurchases,
  isCreditedIn,
  keysHeldIn,
  recordedAmong,
  recordDecisions,
  upsertReview,
  WRITE_BATCH,
} from '../ledger/ledger.js';
import { lockPaymentKeys } from '../ledger/app-ledger.js';
import { writeTransaction } from '../ledger/engine.js';
import type { Adoption } from '../ledger/ledger.js';
import type { Database } from '../ledger/schema.js';
import { loadUserDirectory, UsersTable } from '../ledger/users.js';
import { CompactPlan, type RunPlan } from '../plan/compact-plan.js';
import { planPayments } from '../reconcile/plan.js';
import { timed } from './debug-memory.js';
import type { Payment, PaymentDecision } from '../reconcile/types.js';

/**
 * Decides payments batch by batch as they arrive: per batch one ledger query, a baseline query and
 * a dismissal query (only when the ledger has any: asked once per run), and a few users queries,
 * in one read transaction, then the pure core. The Stripe objects are dropped once decided; only
 * the plan is kept until it is written, compact (see CompactPlan).
 */
export class Planner {
  /** Every payment decided so far, once each (however often it is found): the plan answers whether a key is in it. */
  readonly plan = new CompactPlan();
  creditsPlanned = 0;
  /**
   * By payment key, the Payment (JSON) of every payment decided pending or needs_review: recorded
   * beside it, so that an incremental run decides it again without asking Stripe (RecheckRecord).
   */
  readonly snapshots = new Map<string, string>();
  private dismissals: Promise<boolean> | null = null;
  private baselines: Promise<boolean> | null = null;
  private usersTable: Promise<UsersTable> | null = null;
  /**
   * Whether the ledger held an entry findCredited's lists could find when last asked. Asked per
   * batch until it does (a webhook may credit one meanwhile); after that every batch takes the
   * lists, which is right whatever the ledger holds.
   */
  private ledgerHasEntries = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly config: AppConfig,
    /** The tool's tables exist (false on a dry run against a database the tool never touched). */
    private readonly tables: boolean,
    private readonly dryRun: boolean,
    private readonly progress: (m: string) => void = () => {},
    /** The users table as verifyAppTables found it; read here when not given. */
    usersTable?: UsersTable,
  ) {
    if (usersTable) this.usersTable = Promise.resolve(usersTable);
  }

  readonly decide = (batch: Payment[]): Promise<void> => timed('deciding', () => this.decideBatch(batch));

  private async decideBatch(batch: Payment[]): Promise<void> {
    const fresh = batch.filter((p) => !this.plan.hasPaymentKey(p.paymentKey));
    if (fresh.length === 0) return;
    // One after the other: a second query started before the first is awaited would be left
    // unheard if the first failed, and its own failure would end the process (unhandled rejection).
    this.baselines ??= this.tables ? anyBaselined(this.db) : Promise.resolve(false);
    const baselines = await this.baselines;
    this.dismissals ??= this.tables ? anyDismissed(this.db) : Promise.resolve(false);
    const dismissals = await this.dismissals;
    this.usersTable ??= UsersTable.of(this.db, this.config.users);
    const usersTable = await this.usersTable;
    // The batch's lookups in one read transaction: on SQLite they see the ledger and the users
    // table as of one moment (on Postgres, read committed, each its own; the writes re-check by
    // the unique index all the same).
    const { credited, dismissed, users } = await this.db.transaction().execute(async (trx) => {
      if (this.tables && !this.ledgerHasEntries) this.ledgerHasEntries = await anyEntryToFind(trx);
      const credited = await findCredited(trx, fresh, this.config.ledger, {
        toolTables: this.tables,
        baselines,
        entries: this.ledgerHasEntries,
      });
      const dismissed = dismissals
        ? await findDismissed(
            trx,
            fresh.map((p) => p.paymentKey),
          )
        : new Set<string>();
      const users = await loadUserDirectory(trx, usersTable, this.config.match, fresh);
      return { credited, dismissed, users };
    });
    const plan = planPayments(fresh, {
      rules: this.config,
      users,
      customerColumn: this.config.users.stripeCustomerId !== null,
      isCredited: (p) => isCreditedIn(credited, p),
      isDismissed: (p) => dismissed.has(p.paymentKey),
      dryRun: this.dryRun,
    });
    for (const d of plan.decisions) this.plan.push(d);
    this.keepSnapshots(fresh, plan.decisions);
    this.creditsPlanned += plan.creditsToWrite;
    this.progress(`${this.plan.length} payments decided`);
  }

  /** The payments left waiting (pending, in review): few, so held as JSON until the plan is written. */
  private keepSnapshots(payments: readonly Payment[], decisions: readonly PaymentDecision[]): void {
    const waiting = new Set<string>();
    for (const d of decisions) if (d.status === 'pending' || d.status === 'needs_review') waiting.add(d.paymentKey);
    if (waiting.size === 0) return;
    for (const p of payments) if (waiting.has(p.paymentKey)) this.snapshots.set(p.paymentKey, JSON.stringify(p));
  }

  /** Whether this id (a payment key or a Checkout Session id) is that of a payment decided already. */
  hasDecided(id: string): boolean {
    return this.plan.has(id);
  }
}

export interface WriteOutcome {
  creditsWritten: number;
  /** Payments put in the review queue for the first time. */
  newInReview: string[];
}

/**
 * Payments per write transaction: twenty statements' worth (WRITE_BATCH rows per statement is what
 * SQLite's bound-parameter limit allows). Stripe ids are random, so every row lands on its own page
 * of each index and a transaction rewrites (journal and file) about a page per index per row until
 * rows share pages, and pages every transaction comes back to (the user_id index's page of each
 * user buying) once per transaction; each commit waits for the disk: larger transactions write
 * faster (docs/performance.md). They stay small enough that SQLite's write lock, held for one
 * transaction (a fifth of a second), keeps the app's own writers waiting well within their
 * busy_timeout.
 */
export const TRANSACTION_BATCH = 20 * WRITE_BATCH;

/**
 * Writes a plan in transactions of TRANSACTION_BATCH decisions, each holding that batch's
 * purchases, review entries and local records (in statements of WRITE_BATCH): a crash while
 * writing costs at most the batch in flight, and the unique (kind, payment_key) constraint makes
 * the rerun skip what was already written. A purchase someone else wrote meanwhile turns its
 * decision into `already_credited` (in the plan too, once its transaction is committed).
 *
 * Nearly every payment of a large sweep is credited, and its ledger entry is all that is written
 * of it: only that part of its decision is rebuilt from the compact plan (CompactPlan.credit). The
 * whole decision is rebuilt for the rest, and for a credited payment that has a local record
 * already (which recordDecisions brings up to date).
 *
 * The plan is written in payment key order, not plan order: the indexes keyed by payment key then
 * take each transaction's rows in one narrow range of keys, a few pages, where plan order (time)
 * scatters them over every page of those indexes (Stripe ids are random), each page rewritten in
 * the journal and the file. Nothing depends on the order rows are written in: the report and the
 * JSON follow the plan, and a rerun after a crash finds what was written by key.
 */
export async function writePlan(db: Kysely<Database>, plan: CompactPlan, opts: WriteOptions): Promise<WriteOutcome> {
  return timed('writing', () => new PlanWrite(plan, opts).run(db));
}

interface WriteOptions {
  runId: number | null;
  actor: string;
  adoption: Adoption;
  progress?: (m: string) => void;
  signal?: AbortSignal;
  /** What Stripe said of the payments left pending or in review, by payment key (Planner.snapshots). */
  snapshots?: ReadonlyMap<string, string>;
}

/** One writePlan: the plan cut into transactions, each cut into statements (see writePlan). */
class PlanWrite {
  private readonly outcome: WriteOutcome = { creditsWritten: 0, newInReview: [] };

  constructor(
    private readonly plan: CompactPlan,
    private readonly opts: WriteOptions,
  ) {}

  async run(db: Kysely<Database>): Promise<WriteOutcome> {
    const { plan, opts } = this;
    const total = plan.length;
    const order = plan.byPaymentKey();
    for (let i = 0; i < total; i += TRANSACTION_BATCH) {
      // A run told to stop stops between transactions: each is written whole or not at all.
      opts.signal?.throwIfAborted();
      const indexes = order.subarray(i, Math.min(i + TRANSACTION_BATCH, total));
      const lost = await writeTransaction(db, (trx) => this.transaction(trx, indexes));
      for (const x of lost) plan.setStatus(x, 'already_credited');
      opts.progress?.(`written ${Math.min(i + TRANSACTION_BATCH, total)} of ${total} payments`);
      // SQLite answers synchronously: without a turn of the event loop between batches, nothing else
      // runs until the whole plan is written (the spinner, signals, and V8's own tasks that give
      // freed memory back).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return this.outcome;
  }

  /** One transaction's decisions; returns those credited in the plan that someone else wrote first. */
  private async transaction(trx: Kysely<Database>, indexes: Uint32Array): Promise<number[]> {
    const { plan } = this;
    const onLedger: string[] = [];
    for (const x of indexes) {
      const status = plan.status(x);
      if (status === 'credited' || status === 'already_credited') onLedger.push(plan.paymentKey(x));
    }
    // With a mapped ledger: every payment key of the transaction locked at its start, in one order.
    if (this.opts.adoption.ledger) {
      const credited: string[] = [];
      for (const x of indexes) if (plan.status(x) === 'credited') credited.push(plan.paymentKey(x));
      await lockPaymentKeys(trx, credited);
    }
    // recordDecisions' rule, asked here once for the transaction (its keys are consecutive in key
    // order: recordedAmong): a payment on the ledger is recorded only when it has a record already.
    const recorded = await recordedAmong(trx, onLedger);
    const lost: number[] = [];
    for (let j = 0; j < indexes.length; j += WRITE_BATCH) {
      const credited: number[] = [];
      const others: number[] = [];
      for (const x of indexes.subarray(j, j + WRITE_BATCH)) (plan.status(x) === 'credited' ? credited : others).push(x);
      await this.statement(trx, { credited, others, recorded }, lost);
    }
    return lost;
  }

  /** One statement's worth: the purchases of `credited`, the review entries and local records. */
  private async statement(
    trx: Kysely<Database>,
    part: { credited: number[]; others: number[]; recorded: ReadonlySet<string> },
    lost: number[],
  ): Promise<void> {
    const { plan, opts, outcome } = this;
    const { credited, recorded } = part;
    const toCredit = credited.map((x) => plan.credit(x));
    const inserted = await insertPurchases(trx, toCredit, {
      runId: opts.runId,
      actor: opts.actor,
      reason: null,
      adoption: opts.adoption,
    });
    toCredit.forEach((c, k) => {
      if (inserted.has(c.paymentKey)) outcome.creditsWritten += c.credits ?? 0;
      else lost.push(credited[k]!);
    });
    const others = part.others.filter((x) => plan.status(x) !== 'already_credited' || recorded.has(plan.paymentKey(x)));
    const decisions = others.map((x) => plan.decision(x));
    outcome.newInReview.push(
      ...(await upsertReview(
        trx,
        decisions.filter((d) => d.status === 'needs_review'),
        opts.runId,
      )),
    );
    for (const [k, c] of toCredit.entries()) {
      if (!recorded.has(c.paymentKey)) continue;
      const d = plan.decision(credited[k]!);
      if (!inserted.has(c.paymentKey)) d.status = 'already_credited';
      decisions.push(d);
    }
    await recordDecisions(trx, decisions, opts.runId, recorded, opts.snapshots);
  }
}

/** What a dry run would newly put in review: needs_review payments not in the queue yet. */
export async function wouldBeNewInReview(db: Kysely<Database>, plan: RunPlan, tables: boolean): Promise<string[]> {
  const keys = plan.keysWithStatus('needs_review');
  const known = tables ? await keysHeldIn(db, 'stripe_credits_review', keys) : new Set<string>();
  return keys.filter((k) => !known.has(k));
}
