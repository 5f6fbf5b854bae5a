import type { Kysely } from 'kysely';
import { keyIsLive, type LedgerMapping, type Settings } from '../config.js';
import { AttentionError, CliError, ConfigError, UsageError } from '../errors.js';
import {
  closeAbandonedRuns,
  finishRun,
  ledgerHasPurchases,
  ledgerModes,
  markNoLongerPayments,
  paymentsToRecheck,
  sessionsOfIntents,
  skippedAsRefunded,
  startRun,
} from '../ledger/ledger.js';
import { migrateToLatest, openDatabase, parseDbUrl, toolTablesExist, type OpenDb } from '../ledger/db.js';
import { acquireRunLock, advanceCursor, readCursor, type HeldLock } from '../ledger/lock.js';
import { readReversalState } from '../ledger/reversals.js';
import { appLedgerRefs, tableLabel, verifyAppTables } from '../ledger/app-ledger.js';
import type { UsersTable } from '../ledger/users.js';
import type { Database } from '../ledger/schema.js';
import type { CompactPlan } from '../plan/compact-plan.js';
import { IdSet } from '../plan/id-table.js';
import type { ReconcileCounts } from '../reconcile/plan.js';
import { Planner, wouldBeNewInReview, writePlan, type WriteOutcome } from './plan-writer.js';
import { stripeReaderFor } from './stripe-reader.js';
import { splitRecheck } from './recheck.js';
import type { RateLimits } from '../stripe/rate-limit.js';
import type { ScanOptions } from '../stripe/scan.js';
import type { Payment, PaymentDecision, ReversalDecision, Window } from '../reconcile/types.js';
import { planSource, RECHECK_SECONDS, type Source, type SourcePlan } from '../reconcile/window.js';
import { eventIds, fetchPaymentsByIds } from '../stripe/fetch-events.js';
import { sweepReversals, type SweptReversals } from '../stripe/fetch-reversals.js';
import { fetchPayments, type SweepOptions } from '../stripe/window-sweep.js';
import type { RetryPolicy } from '../stripe/retry.js';
import { isoSeconds } from '../when.js';
import { memoryPhase } from './debug-memory.js';
import { settleReversals, type ReversalOutcome } from './reversals.js';
import { InterruptedError, runSignal } from './stop.js';
import { ReaderStopped, type Progress, type StripeReader } from '../stripe/reader.js';

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
  /** The payments' counts, then `reversed`: refunds and disputes taken back (dry run: that would be). */
  counts: ReconcileCounts & { reversed: number };
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
  /** SPEC "Reversals": every refund and dispute of the PaymentIntents the run touched, decided. */
  reversals: ReversalDecision[];
  /** Refund and dispute ids this run put in the review queue for the first time (dry run: would put). */
  reversalsNewInReview: string[];
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
  // The key first: a run without one stops before it opens the database.
  const live = keyIsLive(opts.settings.stripeApiKey());
  const open = await openDatabase(parseDbUrl(opts.settings.db, opts.cwd), { readonly: opts.dryRun });
  const run = new ReconcileRun(opts, open, live);
  try {
    return await run.execute();
  } catch (e) {
    await run.recordFailure(e);
    throw e;
  } finally {
    await run.close();
  }
}

/** One run's phases, top-down in execute(); the run record and the lock are kept for the end. */
class ReconcileRun {
  private readonly db: Kysely<Database>;
  private readonly stopper: { signal: AbortSignal; dispose(): void };
  private readonly progress: Progress;
  /** Objects events or earlier runs named that Stripe no longer has. */
  private readonly missing: string[] = [];
  private runId: number | null = null;
  private lock: HeldLock | null = null;
  /** The users table as checkLedger found it (with its id type), for the planner. */
  private usersTable: UsersTable | undefined;
  /** A window run's lists of refunds and disputes created in the window. */
  private swept: SweptReversals | undefined;
  /** PaymentIntents whose refunds or disputes the sweep or the events named. */
  private readonly touched = new Set<string>();
  /**
   * PaymentIntents the window's payment lists showed created in the window: the sweep holds all
   * their refunds and disputes (SweptReversals.covers), so they cost no request more. Kept outside
   * the heap; once the sweep is done, only those it touched are kept.
   */
  private readonly createdInWindow = new IdSet();
  /** Ids the run read from Stripe one by one: those that are no payment now wait no longer (markNoLongerPayments). */
  private readonly readById = new Set<string>();
  /** The tool's tables exist (or will before anything is decided): set by execute(). */
  private toolTables = false;

  constructor(
    private readonly opts: ReconcileOptions,
    private readonly open: OpenDb,
    private readonly live: boolean,
  ) {
    this.db = open.db;
    this.stopper = runSignal(opts.signal, opts.settings.runBudgetMs);
    this.progress = opts.progress ?? (() => {});
  }

  private get signal(): AbortSignal {
    return this.stopper.signal;
  }

  async execute(): Promise<ReconcileReport> {
    const { dryRun } = this.opts;
    const hadTables = await this.checkLedger();
    const until = this.windowEnd();
    const reader = this.openReader();
    // The tool's tables exist, or will by the time the first payment is decided.
    const tables = hadTables || !dryRun;
    this.toolTables = tables;
    const planner = new Planner(this.db, this.opts.settings.config, tables, dryRun, this.progress, this.usersTable);
    const source =
      hadTables || dryRun
        ? await this.prepareThenFetch(reader, planner, until, tables)
        : await this.fetchWhilePreparing(reader, planner, until);
    await this.recheck(reader, planner, tables, source.source);
    if (this.missing.length > 0) source.notes.push(missingNote(this.missing));
    const skew = clockSkewWarning(reader.clockAhead);
    if (skew) this.opts.warn?.(skew);
    memoryPhase('fetched and decided');

    const plan = this.checkedPlan(planner.plan);
    // The cap counts credits taken back (or given back) as well as credits added, so that a bug
    // cannot empty balances either: an apply run stops before it writes anything; a dry run,
    // which writes nothing, counts what it decided.
    if (!dryRun)
      await this.checkCap(
        plan,
        planner.creditsPlanned,
        await this.movedAhead(reader, tables, planner.creditsPlanned),
        source,
        reader,
      );
    const written = await this.write(plan, hadTables, planner);
    const taken = await this.takeBack(reader, tables);
    const overCap = dryRun && (await this.checkCap(plan, planner.creditsPlanned, creditsMoved(taken), source, reader));
    const counts = { ...plan.counts(), reversed: reversedCount(taken.decisions) };
    await this.recordSuccess(counts, written.creditsWritten, source, reader);
    const attention =
      written.newInReview.length > 0 || (dryRun && counts.wouldCredit > 0) || overCap || needsPerson(taken, dryRun);
    return {
      mode: dryRun ? 'dry-run' : 'apply',
      source: source.source,
      window: source.window,
      counts,
      creditsWritten: written.creditsWritten,
      creditsPlanned: planner.creditsPlanned,
      decisions: plan.reported(),
      newInReview: written.newInReview,
      reversals: taken.decisions,
      reversalsNewInReview: taken.newInReview,
      notes: source.notes,
      runId: this.runId,
      requests: reader.requests,
      exitCode: attention ? 3 : 0,
    };
  }

  /** The app's tables as configured, a first run that may go ahead, one mode per ledger; whether the tool's tables exist. */
  private async checkLedger(): Promise<boolean> {
    const { config } = this.opts.settings;
    this.usersTable = await verifyAppTables(this.db, config);
    const hadTables = await toolTablesExist(this.db);
    await this.refuseBlindFirstRun(hadTables);
    if (hadTables) {
      const modes = await ledgerModes(this.db);
      if (modes.some((m) => m !== this.live)) {
        const live = this.live;
        throw new ConfigError(
          `this ledger holds ${live ? 'test' : 'live'}-mode payments and the key is a ${live ? 'live' : 'test'}-mode key: test and live payments never mix in one ledger`,
        );
      }
    }
    return hadTables;
  }

  /**
   * The first run: no earlier finished run and no purchase credited yet (manual adjustments do not
   * count: they say nothing about which payments were credited by other means). Without --since or
   * --yes, an apply run would credit a second time what the app credited by other means.
   */
  private async refuseBlindFirstRun(hadTables: boolean): Promise<void> {
    const { opts, db } = this;
    let firstRun = !hadTables || (await readCursor(db)) === null;
    if (firstRun && hadTables && (await ledgerHasPurchases(db))) firstRun = false;
    if (!firstRun || opts.dryRun || opts.since !== undefined || opts.yes) return;
    const mapped = opts.settings.config.ledger;
    if (mapped && (await this.mappedLedgerHoldsPayments(mapped))) return;
    throw new AttentionError(
      'refusing the first run on an empty ledger without --since: payments the app already credited by other means (its webhook, by hand) would be credited a second time',
      'run with --dry-run first to see what it would write; then `stripe-credits baseline --until WHEN` to mark what was credited by other means, or pass --since WHEN to start from a point you know is uncredited, or --yes if nothing was ever credited',
    );
  }

  /** A mapped ledger whose table already holds payments is no blind start: the tool sees those credits. */
  private async mappedLedgerHoldsPayments(mapped: LedgerMapping): Promise<boolean> {
    const refs = await appLedgerRefs(this.db, mapped);
    if (refs.unreadable > 0) {
      throw new AttentionError(
        `refusing the first run without --since: ${refs.unreadable} references in ${tableLabel(mapped)}.${mapped.columns.paymentRef} are not PaymentIntent or Checkout Session ids (e.g. ${refs.examples.join(', ')}), so the payments behind them would be credited a second time`,
        'mark them handled with `stripe-credits baseline --until WHEN` (a time after the newest of them), or rewrite them to the plain pi_…/cs_… id; `stripe-credits doctor` lists them',
      );
    }
    return refs.readable;
  }

  /** Where the window ends: --until, or now; never in the future, and after --since. */
  private windowEnd(): number {
    const { opts } = this;
    const until = opts.until ?? opts.now;
    if (until > opts.now) {
      // A window reaching into the future would move the cursor past events nobody has read yet.
      throw new UsageError(`--until (${isoSeconds(until)}) is in the future; leave it out to reconcile up to now`);
    }
    if (opts.since !== undefined && opts.since >= until) {
      throw new UsageError(`--since (${isoSeconds(opts.since)}) must be before --until (${isoSeconds(until)})`);
    }
    return until;
  }

  private openReader(): StripeReader {
    const { opts } = this;
    const reader = stripeReaderFor(opts.settings, {
      retry: opts.retry,
      rateLimits: opts.rateLimits,
      signal: this.signal,
    });
    if (opts.onRequest) reader.logResponses(opts.onRequest);
    return reader;
  }

  private planWindow(cursor: number | null, until: number): SourcePlan {
    const { opts } = this;
    const p = planSource({ since: opts.since, until, now: opts.now, cursor });
    if (p.window.since >= p.window.until) {
      throw new UsageError(
        `the window would start at ${isoSeconds(p.window.since)}, not before --until (${isoSeconds(p.window.until)})`,
      );
    }
    return p;
  }

  private sweepOptions(): SweepOptions {
    // The ids a sweep keeps (about one per payment) live outside the JavaScript heap, like the plan's.
    return { progress: this.progress, scan: this.opts.scan, idSet: () => new IdSet() };
  }

  /** A dry run, or a ledger the tool has used: the window follows from the cursor, read once the tables are there. */
  private async prepareThenFetch(
    reader: StripeReader,
    planner: Planner,
    until: number,
    tables: boolean,
  ): Promise<SourcePlan> {
    await this.takeTables(reader);
    this.signal.throwIfAborted();
    const source = this.planWindow(tables ? await readCursor(this.db) : null, until);
    await this.beginRun(reader, source);
    await this.fetchSource(reader, planner, source);
    return source;
  }

  /**
   * A first apply run on a database the tool has not touched: a rejected key must be reported
   * before the tool creates its tables (later runs record it as a failed run). No request is spent
   * just on that: with no cursor yet the window is known before the tables are, so the scan starts
   * at once, and its pages wait for the tables, the lock and the run record (ready), which wait for
   * the first answer. Stripe being unreachable is different: that run is recorded, as failed. (Had
   * another run finished meanwhile, this one re-reads a window, which changes nothing it wrote.)
   */
  private async fetchWhilePreparing(reader: StripeReader, planner: Planner, until: number): Promise<SourcePlan> {
    const source = this.planWindow(null, until);
    const ready = this.prepareOnFirstAnswer(reader, source, until);
    const sink = async (batch: Payment[]) => {
      await ready;
      await this.windowSink(planner, source.window)(batch);
    };
    const fetched = fetchPayments(reader, source.window, this.opts.settings.config, sink, this.sweepOptions());
    const swept = this.sweepWindow(reader, source.window);
    fetched.catch(() => {}); // awaited below, or abandoned with the run
    swept.catch(() => {});
    await ready;
    await Promise.all([fetched, swept]);
    return source;
  }

  private async prepareOnFirstAnswer(reader: StripeReader, source: SourcePlan, until: number): Promise<void> {
    const { opts, db } = this;
    try {
      await reader.firstAnswer();
    } catch (e) {
      if (e instanceof CliError && e.exitCode === 1) {
        await migrateToLatest(db);
        const failed = await startRun(db, { mode: 'apply', since: opts.since ?? until, until, actor: opts.actor });
        await finishRun(db, failed, { status: 'failed', error: e.message, requests: reader.requests });
      }
      throw e;
    }
    await this.takeTables(reader);
    this.signal.throwIfAborted();
    await this.beginRun(reader, source);
  }

  /** An apply run: the tool's tables migrated and the run lock taken. */
  private async takeTables(reader: StripeReader): Promise<void> {
    if (this.opts.dryRun) return;
    try {
      await migrateToLatest(this.db);
      this.lock = await acquireRunLock(this.open, `${this.opts.actor} (reconcile)`);
      await closeAbandonedRuns(this.db);
    } catch (e) {
      reader.stop(e);
      throw e;
    }
  }

  /** What a person should know about the window; an apply run recorded as started. */
  private async beginRun(reader: StripeReader, { source, window, notes }: SourcePlan): Promise<void> {
    for (const n of notes) this.progress(n);
    if (!this.opts.dryRun) {
      try {
        this.runId = await startRun(this.db, {
          mode: 'apply',
          since: window.since,
          until: window.until,
          actor: this.opts.actor,
        });
      } catch (e) {
        reader.stop(e);
        throw e;
      }
    }
    memoryPhase('before fetching');
    this.progress(
      `reading payments from ${isoSeconds(window.since)} to ${isoSeconds(window.until)} (${source === 'events' ? 'events' : 'by payment time'})`,
    );
  }

  /** The window's payments by payment time (and the events since the cursor), or the events' payments. */
  private async fetchSource(reader: StripeReader, planner: Planner, source: SourcePlan): Promise<void> {
    const { config } = this.opts.settings;
    const { progress } = this;
    if (source.source === 'events') {
      await this.decideByIds(reader, planner, await this.readEvents(reader, source.window));
      return;
    }
    await Promise.all([
      fetchPayments(reader, source.window, config, this.windowSink(planner, source.window), this.sweepOptions()),
      this.sweepWindow(reader, source.window),
    ]);
    const also = source.alsoEvents;
    if (also) {
      progress(`reading events since the last run (${isoSeconds(also.since)})`);
      const ids = (await this.readEvents(reader, also)).filter((id) => !planner.hasDecided(id));
      await this.decideByIds(reader, planner, ids);
    }
  }

  /** The window's payments to the planner, noting the PaymentIntents created in the window. */
  private windowSink(planner: Planner, window: Window): (batch: Payment[]) => Promise<void> {
    return (batch) => {
      for (const p of batch) {
        const pi = p.paymentIntent;
        if (pi && pi.created >= window.since && (!this.swept || this.swept.byIntent.has(pi.id)))
          this.createdInWindow.add(pi.id);
      }
      return planner.decide(batch);
    };
  }

  /** The refunds and disputes created in the window, read beside its payments on their own lanes. */
  private async sweepWindow(reader: StripeReader, window: Window): Promise<void> {
    this.swept = await sweepReversals(reader, window, { progress: this.progress, scan: this.opts.scan });
    for (const pi of this.swept.byIntent.keys()) this.touched.add(pi);
  }

  /**
   * The payments the events name, and those earlier runs skipped as refunded whose refunds the
   * events name: a refund that failed or was canceled makes such a payment creditable again, and
   * its events are no payment events.
   */
  private async readEvents(reader: StripeReader, window: Window): Promise<string[]> {
    const ids = await eventIds(reader, window, this.progress);
    for (const pi of ids.reversals) this.touched.add(pi);
    const refunded = (await toolTablesExist(this.db)) ? await skippedAsRefunded(this.db, ids.reversals) : [];
    return [...new Set([...ids.payments, ...refunded])];
  }

  /** After the payments: the refunds and disputes of the PaymentIntents the run touched, decided and written. */
  private async takeBack(reader: StripeReader, toolTables: boolean): Promise<ReversalOutcome> {
    await this.lock?.assertHeld();
    this.signal.throwIfAborted();
    const outcome = await this.settle(reader, toolTables, this.opts.dryRun);
    memoryPhase('reversals');
    return outcome;
  }

  /** The refunds and disputes of the PaymentIntents the run touched, decided (and unless `dryRun`, written). */
  private settle(reader: StripeReader, toolTables: boolean, dryRun: boolean): Promise<ReversalOutcome> {
    const { opts } = this;
    return settleReversals(
      [...this.touched].map((id) =>
        this.createdInWindow.has(id) ? { id, created: this.swept!.window.since } : { id },
      ),
      {
        db: this.db,
        reader,
        config: opts.settings.config,
        dryRun,
        toolTables,
        runId: this.runId,
        actor: opts.actor,
        swept: this.swept,
        progress: this.progress,
      },
    );
  }

  /**
   * What earlier runs left pending or in review, unless the run decided it already: an incremental
   * run decides it from what was recorded, a window run re-reads it (splitRecheck).
   */
  private async recheck(reader: StripeReader, planner: Planner, tables: boolean, source: Source): Promise<void> {
    const { opts, progress } = this;
    const { config } = opts.settings;
    const records = tables ? await paymentsToRecheck(this.db, isoSeconds(opts.now - RECHECK_SECONDS)) : [];
    // Read by id in this run and found no payment (a debit that failed): what was recorded is stale.
    const waiting = records.filter(
      (r) => !planner.hasDecided(r.id) && !this.readById.has(r.id) && !this.readById.has(r.paymentKey),
    );
    const { recorded, reread } = splitRecheck(waiting, config, source === 'events');
    if (recorded.length > 0) {
      progress(`deciding ${recorded.length} payments left pending or in review again, from what was recorded`);
      for (let i = 0; i < recorded.length; i += RECHECK_BATCH)
        await planner.decide(recorded.slice(i, i + RECHECK_BATCH));
    }
    if (reread.length > 0) {
      progress(`re-reading ${reread.length} payments left pending or in review`);
      await this.decideByIds(reader, planner, reread);
    }
  }

  /**
   * Payments re-read by id (sessions or PaymentIntents), decided; the ids are kept (readById). A
   * PaymentIntent whose session the tool knows is read by that session: one request, not two.
   */
  private async decideByIds(reader: StripeReader, planner: Planner, ids: readonly string[]): Promise<void> {
    const intents = ids.filter((id) => id.startsWith('pi_'));
    const sessions = this.toolTables && intents.length > 0 ? await sessionsOfIntents(this.db, intents) : new Map();
    const toRead = [...new Set(ids.map((id) => sessions.get(id) ?? id))];
    for (const id of [...ids, ...toRead]) this.readById.add(id);
    const { config } = this.opts.settings;
    await planner.decide(await fetchPaymentsByIds(reader, toRead, config, this.progress, this.missing));
  }

  /** The plan in its order, every payment of the key's mode. */
  private checkedPlan(plan: CompactPlan): CompactPlan {
    plan.sort();
    const stray = plan.firstInMode(!this.live);
    if (stray) {
      throw new ConfigError(
        `payment ${stray.paymentKey} is a ${stray.livemode ? 'live' : 'test'}-mode payment but the key is a ${this.live ? 'live' : 'test'}-mode key`,
      );
    }
    return plan;
  }

  /**
   * Whether the run moves more than maxCreditsPerRun credits without --yes (those its plan adds,
   * and those its reversals take back or give back): a dry run notes it; an apply run is recorded
   * as refused and stops, having written nothing.
   */
  private async checkCap(
    plan: CompactPlan,
    added: number,
    reversed: number,
    source: SourcePlan,
    reader: StripeReader,
  ): Promise<boolean> {
    const { opts } = this;
    const max = opts.settings.config.maxCreditsPerRun;
    const credits = added + reversed;
    if (credits <= max || opts.yes) return false;
    const what = reversed > 0 ? ` (${added} added, ${reversed} taken back or given back)` : '';
    if (opts.dryRun) {
      source.notes.push(
        `the plan writes ${credits} credits${what}, more than maxCreditsPerRun (${max}): a real run would stop unless --yes`,
      );
      return true;
    }
    if (this.runId !== null)
      await finishRun(this.db, this.runId, {
        status: 'refused',
        counts: plan.counts(),
        error: 'maxCreditsPerRun',
        source: source.source,
        requests: reader.requests,
        notes: source.notes,
      });
    this.runId = null;
    throw new AttentionError(
      `this run would write ${credits} credits${what}, more than maxCreditsPerRun (${max}): nothing was written`,
      'check the plan with --dry-run, then rerun with --yes if it is right',
    );
  }

  /**
   * Before an apply run writes: the credits its reversals would move, decided as a dry run does.
   * Not asked (0) with --yes, nor when they cannot reach the cap: a payment's reversals move at
   * most twice its credits (taken back, then given back), and the ledger says what each holds.
   * Payments this run credits are not in the ledger yet: their reversals, at most their credits,
   * are not counted.
   */
  private async movedAhead(reader: StripeReader, tables: boolean, added: number): Promise<number> {
    const { opts } = this;
    const room = opts.settings.config.maxCreditsPerRun - added;
    if (opts.yes || this.touched.size === 0 || !tables) return 0;
    const lookups = [...this.touched].map((pi) => ({
      paymentKey: pi,
      checkoutSession: null,
      paymentIntent: pi,
      reversalIds: [],
    }));
    const held = await readReversalState(this.db, lookups, opts.settings.config.ledger);
    let most = 0;
    for (const p of held.purchases.values()) most += 2 * Math.abs(p.credits);
    if (most <= room) return 0;
    return creditsMoved(await this.settle(reader, tables, true));
  }

  /** An apply run writes the plan; a dry run says what it would newly put in review. */
  private async write(plan: CompactPlan, hadTables: boolean, planner: Planner): Promise<WriteOutcome> {
    const { opts, db, runId } = this;
    // Still this run's lock? (Its session may have ended, or a stall let another run take it over.)
    await this.lock?.assertHeld();
    this.signal.throwIfAborted();
    const written =
      runId === null
        ? { creditsWritten: 0, newInReview: await wouldBeNewInReview(db, plan, hadTables) }
        : await writePlan(db, plan, {
            runId,
            actor: opts.actor,
            adoption: opts.settings.config,
            progress: this.progress,
            signal: this.signal,
            snapshots: planner.snapshots,
          });
    if (runId !== null)
      await markNoLongerPayments(
        db,
        [...this.readById].filter((id) => !planner.hasDecided(id)),
      );
    memoryPhase('written');
    return written;
  }

  /** An apply run recorded as succeeded, and the cursor moved to the window's end. */
  private async recordSuccess(
    counts: ReconcileCounts,
    creditsWritten: number,
    source: SourcePlan,
    reader: StripeReader,
  ): Promise<void> {
    if (this.runId === null) return;
    await finishRun(this.db, this.runId, {
      status: 'succeeded',
      counts,
      creditsWritten,
      source: source.source,
      requests: reader.requests,
      notes: source.notes,
    });
    // Stripe's time, not this machine's: a clock running ahead would move the cursor past events
    // Stripe has yet to create, and the next run would start after them.
    await advanceCursor(this.db, source.window, reader.stripeTime(this.opts.now));
  }

  /** A run recorded as started ends as interrupted or failed. */
  async recordFailure(e: unknown): Promise<void> {
    if (this.runId === null) return;
    // A request refused because the signal had stopped the reader carries the interruption as its reason.
    const cause = e instanceof ReaderStopped ? e.reason : e;
    const status = cause instanceof InterruptedError ? 'interrupted' : 'failed';
    await finishRun(this.db, this.runId, { status, error: e instanceof Error ? e.message : String(e) }).catch(() => {});
  }

  async close(): Promise<void> {
    this.stopper.dispose();
    await this.lock?.release().catch(() => {});
    await this.open.close();
  }
}

/** The credits reversals and reinstatements move (a dry run: would move), whichever way. */
function creditsMoved(taken: ReversalOutcome): number {
  const moving = new Set(['reversed', 'would_reverse', 'reinstated', 'would_reinstate']);
  return taken.decisions.reduce((sum, d) => sum + (moving.has(d.status) ? Math.abs(d.credits) : 0), 0);
}

/** Refunds and disputes taken back (a dry run: that would be). */
function reversedCount(decisions: readonly ReversalDecision[]): number {
  return decisions.filter((d) => d.status === 'reversed' || d.status === 'would_reverse').length;
}

/** SPEC "Exit codes": new reversals in review, or a dry run that would take credits back. */
function needsPerson(taken: ReversalOutcome, dryRun: boolean): boolean {
  if (taken.newInReview.length > 0) return true;
  return dryRun && taken.decisions.some((d) => d.status === 'would_reverse' || d.status === 'would_reinstate');
}

/** Objects events (or earlier runs) named that Stripe no longer has, e.g. deleted test data. */
function missingNote(ids: readonly string[]): string {
  const shown = ids.slice(0, 5).join(', ');
  return `Stripe no longer has ${ids.length} object${ids.length === 1 ? '' : 's'} named by events or earlier runs (deleted?), passed over: ${shown}${ids.length > 5 ? ', …' : ''}`;
}

/** Recorded payments decided per batch, as a page of a list would bring them. */
const RECHECK_BATCH = 100;

/** Beyond this a skewed clock is said: past the events' overlap it would have lost payments. */
const CLOCK_SKEW_WARN_SECONDS = 120;

function clockSkewWarning(ahead: number | null): string | null {
  if (ahead === null || Math.abs(ahead) <= CLOCK_SKEW_WARN_SECONDS) return null;
  const minutes = Math.round(Math.abs(ahead) / 60);
  return ahead > 0
    ? `this machine's clock is ${minutes} minutes ahead of Stripe's (its Date header): the cursor follows Stripe's clock; set the clock right (NTP)`
    : `this machine's clock is ${minutes} minutes behind Stripe's (its Date header): payments of the last ${minutes} minutes wait for the next run; set the clock right (NTP)`;
}
