import { keyIsLive, type Settings } from '../config.js';
import { AttentionError, CliError, ConfigError, UsageError, maskKey } from '../errors.js';
import { findCredited, finishRun, insertPurchases, isCreditedIn, knownInReview, lastSucceededRun, ledgerIsEmpty, ledgerModes, recordDecisions, startRun, upsertReview, WRITE_BATCH } from '../ledger/ledger.js';
import { migrateToLatest, openDatabase, parseDbUrl, toolTablesExist } from '../ledger/db.js';
import { loadUserDirectory, verifyUsersTable } from '../ledger/users.js';
import { countAll, planPayments, type ReconcileCounts } from '../reconcile/plan.js';
import type { Payment, PaymentDecision, Window } from '../reconcile/types.js';
import { createStripeClient } from '../stripe/client.js';
import { fetchPayments, StripeReader, type Progress } from '../stripe/fetch-payments.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../stripe/retry.js';
import { isoSeconds } from '../when.js';

/** A first run (no earlier successful run) covers this much (SPEC). */
export const FIRST_RUN_SECONDS = 30 * 86400;
/**
 * A run without --since starts this long before the end of the last successful run, so that a
 * delayed payment method (ACH, SEPA) whose PaymentIntent was created days before it settled is
 * still inside some window when it succeeds.
 */
export const CONTINUE_LOOKBACK_SECONDS = 14 * 86400;

export interface ReconcileOptions {
  settings: Settings;
  cwd: string;
  dryRun: boolean;
  since?: number;
  until?: number;
  yes: boolean;
  actor: string;
  /** Unix seconds. */
  now: number;
  progress?: Progress;
  retry?: RetryPolicy;
}

export interface ReconcileReport {
  mode: 'apply' | 'dry-run';
  window: Window;
  counts: ReconcileCounts;
  creditsWritten: number;
  /** Credits the plan meant to write (what a dry run would write). */
  creditsPlanned: number;
  /** Every payment of the window except those already credited before this run. */
  decisions: PaymentDecision[];
  /** Payments that this run put in the review queue for the first time (dry run: would put). */
  newInReview: string[];
  runId: number | null;
  requests: number;
  /** 0, or 3 when a person should look (SPEC "Exit codes"). */
  exitCode: 0 | 3;
}

/**
 * One reconcile run: fetch the window's payments from Stripe, decide every one (a plan), then
 * write the plan in batched transactions. A dry run opens the database read-only.
 */
export async function reconcile(opts: ReconcileOptions): Promise<ReconcileReport> {
  const { settings, dryRun } = opts;
  const progress = opts.progress ?? (() => {});
  const apiKey = settings.stripeApiKey();
  const live = keyIsLive(apiKey);
  const location = parseDbUrl(settings.db, opts.cwd);
  const open = openDatabase(location, { readonly: dryRun });
  const { db } = open;
  let runId: number | null = null;
  try {
    await verifyUsersTable(db, settings.config.users);
    const hasTables = await toolTablesExist(db);

    if (!dryRun && opts.since === undefined && !opts.yes && (!hasTables || (await ledgerIsEmpty(db)))) {
      throw new AttentionError(
        'refusing the first run on an empty ledger without --since: payments the app already credited by other means (its webhook, by hand) would be credited a second time',
        'run with --dry-run first to see what it would write, then either pass --since WHEN to start from a point you know is uncredited, or --yes if nothing was ever credited',
      );
    }
    if (hasTables) {
      const modes = await ledgerModes(db);
      if (modes.some((m) => m !== live)) {
        throw new ConfigError(
          `this ledger holds ${live ? 'test' : 'live'}-mode payments and the key is a ${live ? 'live' : 'test'}-mode key: test and live payments never mix in one ledger`,
        );
      }
    }

    const until = opts.until ?? opts.now;
    let since = opts.since;
    if (since === undefined) {
      const last = hasTables ? await lastSucceededRun(db) : undefined;
      since = last ? Math.floor(Date.parse(last.until) / 1000) - CONTINUE_LOOKBACK_SECONDS : until - FIRST_RUN_SECONDS;
    }
    if (since >= until) throw new UsageError(`--since (${isoSeconds(since)}) must be before --until (${isoSeconds(until)})`);
    const window: Window = { since, until };
    const startedAt = new Date().toISOString();

    // Read all of Stripe before touching the database: a rejected key or a bad window leaves the
    // file as it was. Only a run that got as far as Stripe and failed there is recorded, as failed.
    const reader = new StripeReader(
      createStripeClient({ apiKey, apiBase: settings.stripeApiBase }),
      opts.retry ?? { ...DEFAULT_RETRY, budgetMs: settings.retryBudgetMs },
      maskKey(apiKey),
    );
    progress(`reading payments from ${isoSeconds(since)} to ${isoSeconds(until)}`);
    let payments: Payment[];
    try {
      payments = await fetchPayments(reader, window, settings.config, progress);
    } catch (e) {
      if (!dryRun && e instanceof CliError && e.exitCode === 1) {
        await migrateToLatest(db);
        const failed = await startRun(db, { mode: 'apply', since, until, actor: opts.actor, startedAt });
        await finishRun(db, failed, { status: 'failed', error: e.message });
      }
      throw e;
    }

    if (!dryRun) {
      await migrateToLatest(db);
      runId = await startRun(db, { mode: 'apply', since, until, actor: opts.actor, startedAt });
    }

    progress(`deciding ${payments.length} payments`);
    const credited = hasTables || !dryRun ? await findCredited(db, payments) : new Set<string>();
    const users = await loadUserDirectory(db, settings.config.users, settings.config.match, payments);
    const plan = planPayments(payments, {
      rules: settings.config,
      users,
      customerColumn: settings.config.users.stripeCustomerId !== null,
      isCredited: (p) => isCreditedIn(credited, p),
      dryRun,
    });
    const decisions = plan.decisions;
    const creditedBefore = new Set(decisions.filter((d) => d.status === 'already_credited').map((d) => d.paymentKey));

    const otherMode = decisions.find((d) => d.livemode !== live);
    if (otherMode) {
      throw new ConfigError(`payment ${otherMode.paymentKey} is a ${otherMode.livemode ? 'live' : 'test'}-mode payment but the key is a ${live ? 'live' : 'test'}-mode key`);
    }

    if (plan.creditsToWrite > settings.config.maxCreditsPerRun && !opts.yes) {
      if (runId !== null) await finishRun(db, runId, { status: 'refused', counts: countAll(decisions), error: 'maxCreditsPerRun' });
      runId = null;
      throw new AttentionError(
        `this run would write ${plan.creditsToWrite} credits, more than maxCreditsPerRun (${settings.config.maxCreditsPerRun}): nothing was written`,
        'check the plan with --dry-run, then rerun with --yes if it is right',
      );
    }

    let creditsWritten = 0;
    let newInReview: string[] = [];
    const review = decisions.filter((d) => d.status === 'needs_review');
    if (dryRun) {
      const known = hasTables ? await knownInReview(db, review.map((d) => d.paymentKey)) : new Set<string>();
      newInReview = review.map((d) => d.paymentKey).filter((k) => !known.has(k));
    } else {
      const toCredit = decisions.filter((d) => d.status === 'credited');
      for (let i = 0; i < toCredit.length; i += WRITE_BATCH) {
        const batch = toCredit.slice(i, i + WRITE_BATCH);
        const inserted = await db.transaction().execute((trx) => insertPurchases(trx, batch, { runId, actor: opts.actor, reason: null }));
        for (const d of batch) {
          if (inserted.has(d.paymentKey)) creditsWritten += d.credits ?? 0;
          else d.status = 'already_credited'; // credited by someone else since we looked
        }
        progress(`written ${Math.min(i + WRITE_BATCH, toCredit.length)} of ${toCredit.length} credits`);
      }
      for (let i = 0; i < review.length; i += WRITE_BATCH) {
        const batch = review.slice(i, i + WRITE_BATCH);
        const fresh = await db.transaction().execute((trx) => upsertReview(trx, batch, runId!));
        newInReview.push(...fresh);
      }
      for (let i = 0; i < decisions.length; i += WRITE_BATCH) {
        const batch = decisions.slice(i, i + WRITE_BATCH);
        await db.transaction().execute((trx) => recordDecisions(trx, batch, runId));
      }
    }

    const counts = countAll(decisions);
    if (runId !== null) await finishRun(db, runId, { status: 'succeeded', counts, creditsWritten });
    const attention = newInReview.length > 0 || (dryRun && counts.wouldCredit > 0);
    return {
      mode: dryRun ? 'dry-run' : 'apply',
      window,
      counts,
      creditsWritten,
      creditsPlanned: plan.creditsToWrite,
      decisions: decisions.filter((d) => !creditedBefore.has(d.paymentKey)),
      newInReview,
      runId,
      requests: reader.requests,
      exitCode: attention ? 3 : 0,
    };
  } catch (e) {
    if (runId !== null) {
      await finishRun(db, runId, { status: 'failed', error: e instanceof Error ? e.message : String(e) }).catch(() => {});
    }
    throw e;
  } finally {
    await open.close();
  }
}
