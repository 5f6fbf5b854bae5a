import type { Kysely } from 'kysely';
import type { AppConfig } from '../config.js';
import {
  anyDismissed,
  findCredited,
  findCreditedBeforeMigration,
  findDismissed,
  insertPurchases,
  isCreditedIn,
  knownInReview,
  recordDecisions,
  upsertReview,
  WRITE_BATCH,
} from '../ledger/ledger.js';
import { writeTransaction } from '../ledger/engine.js';
import type { Adoption } from '../ledger/ledger.js';
import type { Database } from '../ledger/schema.js';
import { loadUserDirectory } from '../ledger/users.js';
import { planPayments } from '../reconcile/plan.js';
import type { Payment, PaymentDecision } from '../reconcile/types.js';

/**
 * Decides payments batch by batch as they arrive: per batch one ledger query, one dismissal query
 * and a few users queries, then the pure core. The Stripe objects are dropped once decided; only
 * the plan (one decision per payment) is kept until it is written.
 */
export class Planner {
  readonly decisions: PaymentDecision[] = [];
  /** Payment keys decided so far (a payment is decided once, however often it is found). */
  readonly decided = new Set<string>();
  readonly sessionsDecided = new Set<string>();
  creditsPlanned = 0;
  private dismissals: Promise<boolean> | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly config: AppConfig,
    /** The tool's tables exist (false on a dry run against a database the tool never touched). */
    private readonly tables: boolean,
    private readonly dryRun: boolean,
    private readonly progress: (m: string) => void = () => {},
  ) {}

  readonly decide = async (batch: Payment[]): Promise<void> => {
    const fresh = batch.filter((p) => !this.decided.has(p.paymentKey));
    if (fresh.length === 0) return;
    const credited = this.tables ? await findCredited(this.db, fresh, this.config.ledger) : await findCreditedBeforeMigration(this.db, fresh, this.config.ledger);
    this.dismissals ??= this.tables ? anyDismissed(this.db) : Promise.resolve(false);
    const dismissed = (await this.dismissals) ? await findDismissed(this.db, fresh.map((p) => p.paymentKey)) : new Set<string>();
    const users = await loadUserDirectory(this.db, this.config.users, this.config.match, fresh);
    const plan = planPayments(fresh, {
      rules: this.config,
      users,
      customerColumn: this.config.users.stripeCustomerId !== null,
      isCredited: (p) => isCreditedIn(credited, p),
      isDismissed: (p) => dismissed.has(p.paymentKey),
      dryRun: this.dryRun,
    });
    for (const p of fresh) {
      this.decided.add(p.paymentKey);
      if (p.session) this.sessionsDecided.add(p.session.id);
    }
    for (const d of plan.decisions) this.decisions.push(d);
    this.creditsPlanned += plan.creditsToWrite;
    this.progress(`${this.decisions.length} payments decided`);
  };
}

export interface WriteOutcome {
  creditsWritten: number;
  /** Payments put in the review queue for the first time. */
  newInReview: string[];
}

/**
 * Writes a plan in transactions of WRITE_BATCH decisions, each holding that batch's purchases,
 * review entries and local records: a crash while writing costs at most the batch in flight, and
 * the unique (kind, payment_key) constraint makes the rerun skip what was already written. A
 * purchase someone else wrote meanwhile turns its decision into `already_credited`.
 */
export async function writePlan(
  db: Kysely<Database>,
  decisions: PaymentDecision[],
  opts: { runId: number | null; actor: string; adoption: Adoption; progress?: (m: string) => void },
): Promise<WriteOutcome> {
  let creditsWritten = 0;
  const newInReview: string[] = [];
  for (let i = 0; i < decisions.length; i += WRITE_BATCH) {
    const batch = decisions.slice(i, i + WRITE_BATCH);
    const toCredit = batch.filter((d) => d.status === 'credited');
    const review = batch.filter((d) => d.status === 'needs_review');
    await writeTransaction(db, async (trx) => {
      const inserted = await insertPurchases(trx, toCredit, { runId: opts.runId, actor: opts.actor, reason: null, adoption: opts.adoption });
      for (const d of toCredit) {
        if (inserted.has(d.paymentKey)) creditsWritten += d.credits ?? 0;
        else d.status = 'already_credited';
      }
      newInReview.push(...(await upsertReview(trx, review, opts.runId)));
      await recordDecisions(trx, batch, opts.runId);
    });
    opts.progress?.(`written ${Math.min(i + WRITE_BATCH, decisions.length)} of ${decisions.length} payments`);
  }
  return { creditsWritten, newInReview };
}

/** What a dry run would newly put in review: needs_review payments not in the queue yet. */
export async function wouldBeNewInReview(db: Kysely<Database>, decisions: readonly PaymentDecision[], tables: boolean): Promise<string[]> {
  const keys = decisions.filter((d) => d.status === 'needs_review').map((d) => d.paymentKey);
  const known = tables ? await knownInReview(db, keys) : new Set<string>();
  return keys.filter((k) => !known.has(k));
}
