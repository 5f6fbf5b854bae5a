import type Stripe from 'stripe';
import { keyIsLive, type Settings } from '../config.js';
import { AttentionError, CliError, ConfigError, UsageError } from '../errors.js';
import { finishRun, ledgerHasPurchases, ledgerModes, paymentsToRecheck, startRun } from '../ledger/ledger.js';
import { migrateToLatest, openDatabase, parseDbUrl, toolTablesExist } from '../ledger/db.js';
import { acquireRunLock, advanceCursor, readCursor, type HeldLock } from '../ledger/lock.js';
import { appLedgerRefs, tableLabel, verifyAppTables } from '../ledger/app-ledger.js';
import type { ReconcileCounts } from '../reconcile/plan.js';
import { Planner, wouldBeNewInReview, writePlan } from './plan-writer.js';
import { stripeReaderFor } from './stripe-reader.js';
import type { RateLimits } from '../stripe/rate-limit.js';
import type { ScanOptions } from '../stripe/scan.js';
import type { PaymentDecision, Window } from '../reconcile/types.js';
import { planSource, RECHECK_SECONDS, type Source } from '../reconcile/window.js';
import { fetchPaymentsByIds, idsFromEvents } from '../stripe/fetch-events.js';
import { fetchPayments, type Progress } from '../stripe/fetch-payments.js';
import type { RetryPolicy } from '../stripe/retry.js';
import { isoSeconds } from '../when.js';
import { memoryPhase } from './debug-memory.js';
import { InterruptedError, runSignal } from './stop.js';
import { ReaderStopped } from '../stripe/reader.js';

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
  /** Called for every Stripe request (--verbose). */
  onRequest?: (line: string) => void;
  /** Told what a person should fix even when the run succeeds (a skewed clock). */
  warn?: (message: string) => void;
  retry?: RetryPolicy;
  /** Requests per second (default: just below Stripe's limits for the key's mode). */
  rateLimits?: RateLimits;
  scan?: ScanOptions;
  /** Stops the run (SIGINT, SIGTERM): it ends between two steps, recorded as interrupted. */
  signal?: AbortSignal;
}

export interface ReconcileReport {
  mode: 'apply' | 'dry-run';
  source: Source;
  window: Window;
  counts: ReconcileCounts;
  creditsWritten: number;
  /** Credits the plan meant to write (what a dry run would write). */
  creditsPlanned: number;
  /**
   * Every payment decided except those already credited before this run, in plan order: rebuilt
   * from the compact plan as it is iterated (any number of times), not held as objects.
   */
  decisions: Iterable<PaymentDecision>;
  /** Payments that this run put in the review queue for the first time (dry run: would put). */
  newInReview: string[];
  /** Things a person should know about this run (a gap the window could not cover…). */
  notes: string[];
  runId: number | null;
  requests: number;
  /** 0, or 3 when a person should look (SPEC "Exit codes"). */
  exitCode: 0 | 3;
}

/**
 * One reconcile run: find the payments (a window scan, or the Events API from the cursor, plus a
 * re-read of what earlier runs left pending or in review), decide every one (a plan), then write
 * the plan in batched transactions. An apply run holds the run lock throughout; a dry run opens
 * the database read-only and writes nothing.
 */
export async function reconcile(opts: ReconcileOptions): Promise<ReconcileReport> {
  const { settings, dryRun } = opts;
  const progress = opts.progress ?? (() => {});
  const apiKey = settings.stripeApiKey();
  const live = keyIsLive(apiKey);
  const open = await openDatabase(parseDbUrl(settings.db, opts.cwd), { readonly: dryRun });
  const { db } = open;
  let runId: number | null = null;
  let lock: HeldLock | null = null;
  const stopper = runSignal(opts.signal, settings.runBudgetMs);
  const { signal } = stopper;
  try {
    await verifyAppTables(db, settings.config);
    const hadTables = await toolTablesExist(db);

    // The first run: no earlier finished run and no purchase credited yet (manual adjustments do
    // not count: they say nothing about which payments were credited by other means). A mapped
    // ledger whose table already holds payments is no blind start: the tool sees those credits.
    const mapped = settings.config.ledger;
    let firstRun = !hadTables || (await readCursor(db)) === null;
    if (firstRun && hadTables && (await ledgerHasPurchases(db))) firstRun = false;
    if (firstRun && mapped && !dryRun && opts.since === undefined && !opts.yes) {
      const refs = await appLedgerRefs(db, mapped);
      if (refs.unreadable > 0) {
        throw new AttentionError(
          `refusing the first run without --since: ${refs.unreadable} references in ${tableLabel(mapped)}.${mapped.columns.paymentRef} are not PaymentIntent or Checkout Session ids (e.g. ${refs.examples.join(', ')}), so the payments behind them would be credited a second time`,
          'mark them handled with `stripe-credits baseline --until WHEN` (a time after the newest of them), or rewrite them to the plain pi_…/cs_… id; `stripe-credits doctor` lists them',
        );
      }
      if (refs.readable) firstRun = false;
    }
    if (!dryRun && opts.since === undefined && !opts.yes && firstRun) {
      throw new AttentionError(
        'refusing the first run on an empty ledger without --since: payments the app already credited by other means (its webhook, by hand) would be credited a second time',
        'run with --dry-run first to see what it would write; then `stripe-credits baseline --until WHEN` to mark what was credited by other means, or pass --since WHEN to start from a point you know is uncredited, or --yes if nothing was ever credited',
      );
    }
    if (hadTables) {
      const modes = await ledgerModes(db);
      if (modes.some((m) => m !== live)) {
        throw new ConfigError(
          `this ledger holds ${live ? 'test' : 'live'}-mode payments and the key is a ${live ? 'live' : 'test'}-mode key: test and live payments never mix in one ledger`,
        );
      }
    }
    const until = opts.until ?? opts.now;
    if (until > opts.now) {
      // A window reaching into the future would move the cursor past events nobody has read yet.
      throw new UsageError(`--until (${isoSeconds(until)}) is in the future; leave it out to reconcile up to now`);
    }
    if (opts.since !== undefined && opts.since >= until) {
      throw new UsageError(`--since (${isoSeconds(opts.since)}) must be before --until (${isoSeconds(until)})`);
    }

    const reader = stripeReaderFor(settings, { retry: opts.retry, rateLimits: opts.rateLimits, signal });
    const client = reader.stripe;
    if (opts.onRequest) {
      const log = opts.onRequest;
      client.on('response', (r: Stripe.ResponseEvent) =>
        log(`stripe: ${r.method} ${r.path} → ${r.status} ${r.elapsed}ms ${r.request_id ?? ''}`),
      );
    }

    const tables = hadTables || !dryRun;
    const planWindow = (cursor: number | null) => {
      const p = planSource({ since: opts.since, until, now: opts.now, cursor });
      if (p.window.since >= p.window.until) {
        throw new UsageError(
          `the window would start at ${isoSeconds(p.window.since)}, not before --until (${isoSeconds(p.window.until)})`,
        );
      }
      return p;
    };
    // On a database the tool has not touched yet, a rejected key must be reported before the tool
    // creates its tables (later runs record it as a failed run). No request is spent just on that:
    // with no cursor yet the window is known before the tables are, so the scan starts at once and
    // the first answer of its first pages is awaited before migrating. Pages that arrive meanwhile
    // wait for the planner. Stripe being unreachable is different: that run is recorded, as failed.
    let early: {
      plan: ReturnType<typeof planSource>;
      fetching: Promise<void>;
      open: (p: Planner | Error) => void;
    } | null = null;
    if (!dryRun && !hadTables) {
      const sourcePlan = planWindow(null);
      let release!: (p: Planner | Error) => void;
      const planner = new Promise<Planner | Error>((r) => (release = r));
      const sink = async (batch: Parameters<Planner['decide']>[0]) => {
        const p = await planner;
        if (p instanceof Error) throw p;
        await p.decide(batch);
      };
      const fetching = fetchPayments(reader, sourcePlan.window, settings.config, sink, progress, opts.scan);
      fetching.catch(() => {}); // awaited below, or abandoned with the run
      early = { plan: sourcePlan, fetching, open: release };
      try {
        await reader.firstAnswer();
      } catch (e) {
        release(e instanceof Error ? e : new Error(String(e)));
        if (e instanceof CliError && e.exitCode === 1) {
          await migrateToLatest(db);
          const failed = await startRun(db, { mode: 'apply', since: opts.since ?? until, until, actor: opts.actor });
          await finishRun(db, failed, { status: 'failed', error: e.message, requests: reader.requests });
        }
        throw e;
      }
    }
    try {
      if (!dryRun) {
        await migrateToLatest(db);
        lock = await acquireRunLock(open, `${opts.actor} (reconcile)`);
      }
    } catch (e) {
      early?.open(new Error('the run stopped before reading Stripe'));
      reader.stop(e);
      throw e;
    }

    // (A first run whose scan started early keeps its window: had another run finished in the
    // meantime, this one would re-read a window, which changes nothing that run wrote.)
    signal.throwIfAborted();
    const { source, window, notes, alsoEvents } = early?.plan ?? planWindow(tables ? await readCursor(db) : null);
    for (const n of notes) progress(n);
    const planner = new Planner(db, settings.config, tables, dryRun, progress);
    if (!dryRun) {
      try {
        runId = await startRun(db, { mode: 'apply', since: window.since, until: window.until, actor: opts.actor });
      } catch (e) {
        early?.open(new Error('the run stopped before reading Stripe'));
        reader.stop(e);
        throw e;
      }
    }

    memoryPhase('before fetching');
    const missing: string[] = [];
    progress(
      `reading payments from ${isoSeconds(window.since)} to ${isoSeconds(window.until)} (${source === 'events' ? 'events' : 'by payment time'})`,
    );
    if (early) {
      early.open(planner);
      await early.fetching;
    } else if (source === 'window') {
      await fetchPayments(reader, window, settings.config, planner.decide, progress, opts.scan);
      if (alsoEvents) {
        progress(`reading events since the last run (${isoSeconds(alsoEvents.since)})`);
        const ids = (await idsFromEvents(reader, alsoEvents, progress)).filter((id) => !planner.hasDecided(id));
        await planner.decide(await fetchPaymentsByIds(reader, ids, settings.config, progress, missing));
      }
    } else {
      await planner.decide(
        await fetchPaymentsByIds(
          reader,
          await idsFromEvents(reader, window, progress),
          settings.config,
          progress,
          missing,
        ),
      );
    }
    const recheckIds = tables ? await paymentsToRecheck(db, isoSeconds(opts.now - RECHECK_SECONDS)) : [];
    const toRecheck = recheckIds.filter((id) => !planner.hasDecided(id));
    if (toRecheck.length > 0) {
      progress(`re-reading ${toRecheck.length} payments left pending or in review`);
      await planner.decide(await fetchPaymentsByIds(reader, toRecheck, settings.config, progress, missing));
    }
    if (missing.length > 0) notes.push(missingNote(missing));
    const skew = clockSkewWarning(reader.clockAhead);
    if (skew) opts.warn?.(skew);
    memoryPhase('fetched and decided');
    const { plan, creditsPlanned } = planner;
    plan.sort();

    for (const i of plan.indexes()) {
      if (plan.livemode(i) !== live) {
        throw new ConfigError(
          `payment ${plan.paymentKey(i)} is a ${plan.livemode(i) ? 'live' : 'test'}-mode payment but the key is a ${live ? 'live' : 'test'}-mode key`,
        );
      }
    }

    const overCap = creditsPlanned > settings.config.maxCreditsPerRun && !opts.yes;
    if (overCap && dryRun) {
      notes.push(
        `the plan writes ${creditsPlanned} credits, more than maxCreditsPerRun (${settings.config.maxCreditsPerRun}): a real run would stop unless --yes`,
      );
    } else if (overCap) {
      if (runId !== null)
        await finishRun(db, runId, {
          status: 'refused',
          counts: plan.counts(),
          error: 'maxCreditsPerRun',
          source,
          requests: reader.requests,
          notes,
        });
      runId = null;
      throw new AttentionError(
        `this run would write ${creditsPlanned} credits, more than maxCreditsPerRun (${settings.config.maxCreditsPerRun}): nothing was written`,
        'check the plan with --dry-run, then rerun with --yes if it is right',
      );
    }

    // Still this run's lock? (Its session may have ended, or a stall let another run take it over.)
    await lock?.assertHeld();
    signal.throwIfAborted();
    const { creditsWritten, newInReview } =
      runId === null
        ? { creditsWritten: 0, newInReview: await wouldBeNewInReview(db, plan, hadTables) }
        : await writePlan(db, plan, { runId, actor: opts.actor, adoption: settings.config, progress, signal });

    memoryPhase('written');
    const counts = plan.counts();
    if (runId !== null) {
      await finishRun(db, runId, {
        status: 'succeeded',
        counts,
        creditsWritten,
        source,
        requests: reader.requests,
        notes,
      });
      // Stripe's time, not this machine's: a clock running ahead would move the cursor past events
      // Stripe has yet to create, and the next run would start after them.
      await advanceCursor(db, window, reader.stripeTime(opts.now));
    }
    const attention = newInReview.length > 0 || (dryRun && counts.wouldCredit > 0) || overCap;
    return {
      mode: dryRun ? 'dry-run' : 'apply',
      source,
      window,
      counts,
      creditsWritten,
      creditsPlanned,
      decisions: plan.reported(),
      newInReview,
      notes,
      runId,
      requests: reader.requests,
      exitCode: attention ? 3 : 0,
    };
  } catch (e) {
    if (runId !== null) {
      // A request refused because the signal had stopped the reader carries the interruption as its reason.
      const cause = e instanceof ReaderStopped ? e.reason : e;
      const status = cause instanceof InterruptedError ? 'interrupted' : 'failed';
      await finishRun(db, runId, { status, error: e instanceof Error ? e.message : String(e) }).catch(() => {});
    }
    throw e;
  } finally {
    stopper.dispose();
    await lock?.release().catch(() => {});
    await open.close();
  }
}

/** Objects events (or earlier runs) named that Stripe no longer has, e.g. deleted test data. */
function missingNote(ids: readonly string[]): string {
  const shown = ids.slice(0, 5).join(', ');
  return `Stripe no longer has ${ids.length} object${ids.length === 1 ? '' : 's'} named by events or earlier runs (deleted?), passed over: ${shown}${ids.length > 5 ? ', …' : ''}`;
}

/** Beyond this a skewed clock is said: past the events' overlap it would have lost payments. */
const CLOCK_SKEW_WARN_SECONDS = 120;

function clockSkewWarning(ahead: number | null): string | null {
  if (ahead === null || Math.abs(ahead) <= CLOCK_SKEW_WARN_SECONDS) return null;
  const minutes = Math.round(Math.abs(ahead) / 60);
  return ahead > 0
    ? `this machine's clock is ${minutes} minutes ahead of Stripe's (its Date header): the cursor follows Stripe's clock; set the clock right (NTP)`
    : `this machine's clock is ${minutes} minutes behind Stripe's (its Date header): payments of the last ${minutes} minutes wait for the next run; set the clock right (NTP)`;
}
