import type Stripe from 'stripe';
import { SESSION_LOOKBACK_SECONDS, inWindow, sessionPayment, standalonePayment } from '../reconcile/select.js';
import type { Payment, PaymentIntentSnapshot, Window } from '../reconcile/types.js';
import { countsAlone, expandsLineItems, fillLineItems, type FetchRules } from './fetch-rules.js';
import { expandedIntent, toPaymentIntentSnapshot, toSessionSnapshot } from './map.js';
import { WorkQueue, type Progress, type StripeReader } from './reader.js';
import { Coverage, scanAlong, scanCreated, DEFAULT_SCAN, type ScanOptions } from './scan.js';

/** Receives payments in batches as they are found; the caller decides them and drops the Stripe objects. */
export type PaymentSink = (batch: Payment[]) => Promise<void>;

/** The ids the sweep remembers: it only adds and asks whether one is there. */
interface IdSet {
  add(id: string): void;
  has(id: string): boolean;
}

export interface SweepOptions {
  progress?: Progress;
  scan?: ScanOptions;
  /**
   * Makes the sets of PaymentIntent ids the sweep keeps (about one id per payment): the app passes
   * sets kept outside the JavaScript heap; a plain Set when none is given.
   */
  idSet?: () => IdSet;
}

/** Payments a batch handed to the sink; also how many candidates may wait to be asked about. */
const BATCH = 1000;

/**
 * Fetches every payment of the window (SPEC "Which Stripe objects are payments") and hands them
 * to `sink` in batches as pages arrive, so memory does not grow with the account:
 * - complete Checkout Sessions created from 24 hours before the window, with their PaymentIntent
 *   and its charge expanded, and PaymentIntents created in the window, listed side by side in
 *   time slices (scanCreated) under the rate limiter;
 * - a PaymentIntent that belongs to a session is that session's payment; the others that pass the
 *   standalone policy (candidates) are checked one by one (their session, if one was not listed;
 *   whether they pay an invoice, unless the InvoicePayments listed under the "all" policy say so)
 *   as soon as the lists can no longer spare the requests (askable), while the lists go on;
 * - under "all", an old PaymentIntent the InvoicePayments name is decided with no request, as
 *   soon as the sessions list has covered the day before it (decidedByInvoice);
 * - line items only where the price rule needs them.
 * Only ids are kept: of the sessions' PaymentIntents, and under "all" of the PaymentIntents the
 * InvoicePayments name; and the candidates not yet decided or asked about (those the lists may
 * still settle, and at most a thousand waiting to be asked).
 */
export async function fetchPayments(
  reader: StripeReader,
  window: Window,
  rules: FetchRules,
  sink: PaymentSink,
  opts: SweepOptions = {},
): Promise<void> {
  await new WindowSweep(reader, window, rules, sink, opts).run();
}

/** Payments decided from what the lists show, and candidates to ask Stripe about. */
interface Verdicts {
  decided: Payment[];
  ask: PaymentIntentSnapshot[];
}

/**
 * One sweep of a window: three lists side by side (sessions, PaymentIntents, and under "all"
 * InvoicePayments), the candidates they leave, and the checks of those Stripe must be asked about.
 */
class WindowSweep {
  private readonly progress: Progress;
  private readonly outlet: Outlet;
  private readonly lists: ListsSoFar;
  /** Candidates the lists may still settle, by id. */
  private readonly candidates = new Map<string, PaymentIntentSnapshot>();
  /** Candidates to ask Stripe about, eight at a time; the PaymentIntents list waits while a thousand wait. */
  private readonly checks: WorkQueue<PaymentIntentSnapshot>;
  private readonly read = { sessions: 0, intents: 0, checked: 0 };
  /**
   * The candidates kept are looked over again when their number has doubled since the last look
   * (each costs a constant share of looking in all), and when the sessions list is done.
   */
  private sweepAt = BATCH;

  constructor(
    private readonly reader: StripeReader,
    private readonly window: Window,
    private readonly rules: FetchRules,
    sink: PaymentSink,
    private readonly opts: SweepOptions,
  ) {
    this.progress = opts.progress ?? (() => {});
    this.outlet = new Outlet(reader, rules, sink);
    const listAll = rules.match.standalonePaymentIntents === 'all';
    this.lists = new ListsSoFar(listAll, opts.idSet ?? (() => new Set<string>()));
    this.checks = new WorkQueue<PaymentIntentSnapshot>(8, BATCH, (pi) => this.check(pi));
  }

  async run(): Promise<void> {
    await Promise.all([this.listSessions(), this.listIntents(), this.listInvoicePayments()]);
    await this.checkTheRest();
    await this.outlet.close();
  }

  /** Complete Checkout Sessions from a day before the window: a session can be paid up to a day after it was made. */
  private async listSessions(): Promise<void> {
    const lineItems = expandsLineItems(this.rules);
    await scanCreated<Stripe.Checkout.Session>(
      this.reader,
      'list Checkout Sessions',
      'sessions.list',
      (created, startingAfter) => this.reader.listCompleteSessions(created, startingAfter, lineItems),
      { gte: this.window.since - SESSION_LOOKBACK_SECONDS, lt: this.window.until },
      (page) => this.onSessions(page),
      this.opts.scan ?? DEFAULT_SCAN,
      this.lists.sessions,
    );
    this.lists.sessionsDone = true;
    await this.sweep(true);
  }

  private async onSessions(page: Stripe.Checkout.Session[]): Promise<void> {
    const found: Payment[] = [];
    for (const s of page) {
      const session = toSessionSnapshot(s);
      const pi = expandedIntent(s);
      if (session.paymentIntentId) {
        this.lists.sessionOwns(session.paymentIntentId, pi === null || countsAlone(pi, this.rules));
        this.candidates.delete(session.paymentIntentId);
      }
      const p = sessionPayment(session, pi);
      if (p && inWindow(p.paidAt, this.window)) found.push(p);
    }
    this.read.sessions += page.length;
    this.progress(`${this.read.sessions} Checkout Sessions and ${this.read.intents} PaymentIntents read`);
    await this.outlet.emit(found);
    await this.sweep();
  }

  /** PaymentIntents created in the window: those no listed session owns that count alone are candidates. */
  private listIntents(): Promise<void> {
    return scanCreated<Stripe.PaymentIntent>(
      this.reader,
      'list PaymentIntents',
      'payment_intents.list',
      (created, startingAfter) => this.reader.listPaymentIntents(created, startingAfter),
      { gte: this.window.since, lt: this.window.until },
      (page) => this.onIntents(page),
      this.opts.scan ?? DEFAULT_SCAN,
      this.lists.intents,
    );
  }

  private async onIntents(page: Stripe.PaymentIntent[]): Promise<void> {
    const verdicts: Verdicts = { decided: [], ask: [] };
    for (const raw of page) {
      if (this.lists.sessionIntents.has(raw.id)) continue;
      const pi = toPaymentIntentSnapshot(raw);
      if (countsAlone(pi, this.rules) && !this.settle(pi, verdicts)) this.candidates.set(pi.id, pi);
    }
    this.read.intents += page.length;
    const { sessions, intents, checked } = this.read;
    this.progress(
      `${sessions} Checkout Sessions and ${intents} PaymentIntents read${checked > 0 ? `, ${checked} standalone PaymentIntents checked` : ''}`,
    );
    await this.hand(verdicts);
    await this.sweep();
    // The PaymentIntents list, which finds the candidates, waits while a thousand are to be
    // asked about (the other lists do not: they only let candidates be decided).
    await this.checks.roomy();
  }

  /**
   * Under the "all" policy every PaymentIntent no session owns is a candidate, subscription and
   * invoice payments included: the InvoicePayments of the window are listed too, side by side, so
   * that a PaymentIntent they name needs no request of its own to say it pays an invoice. (Not
   * under the other policies: their candidates are few, and the list would cost more than it saves.)
   */
  private async listInvoicePayments(): Promise<void> {
    if (!this.lists.listAll) return;
    await scanAlong<Stripe.InvoicePayment>(
      this.reader,
      'list InvoicePayments',
      'invoice_payments.list',
      (created, startingAfter) => this.reader.listInvoicePayments(created, startingAfter),
      // An invoice's payment is recorded when its PaymentIntent is made, or later: from the
      // sessions' lookback on, as far as the window goes.
      { gte: this.window.since - SESSION_LOOKBACK_SECONDS, lt: this.window.until },
      (page) => this.onInvoicePayments(page),
      this.lists.intents,
      this.lists.invoices,
    );
  }

  private onInvoicePayments(page: Stripe.InvoicePayment[]): Promise<void> {
    for (const ip of page) {
      const pi = ip.payment?.payment_intent;
      const id = typeof pi === 'string' ? pi : (pi?.id ?? null);
      if (id) this.lists.invoiced.add(id);
    }
    return this.sweep();
  }

  /** A candidate seen by the lists: decided now, to be asked about now, or (false) kept for later. */
  private settle(pi: PaymentIntentSnapshot, verdicts: Verdicts): boolean {
    if (this.lists.decidedByInvoice(pi)) verdicts.decided.push(standalonePayment(pi, true));
    else if (this.lists.askable(pi)) verdicts.ask.push(pi);
    else return false;
    return true;
  }

  private async hand(verdicts: Verdicts): Promise<void> {
    for (const pi of verdicts.ask) this.checks.push(pi);
    await this.outlet.emit(verdicts.decided);
  }

  /** Looks the kept candidates over again (see sweepAt), or now. */
  private async sweep(now = false): Promise<void> {
    if (!now && this.candidates.size < this.sweepAt) return;
    const verdicts: Verdicts = { decided: [], ask: [] };
    for (const pi of this.candidates.values()) if (this.settle(pi, verdicts)) this.candidates.delete(pi.id);
    this.sweepAt = Math.max(BATCH, 2 * this.candidates.size);
    await this.hand(verdicts);
  }

  /**
   * Asks about one candidate: its session (one not listed, or completed while the lists ran) and
   * whether it pays an invoice (unless the InvoicePayments named it). By the time it is asked the
   * sessions list is done, so decidedByInvoice no longer waits; the InvoicePayments may have
   * named it since it was queued.
   */
  private async check(pi: PaymentIntentSnapshot): Promise<void> {
    const p = this.lists.decidedByInvoice(pi) ? standalonePayment(pi, true) : await this.ask(pi);
    this.read.checked += 1;
    if (p) await this.outlet.emit([p]);
  }

  private async ask(pi: PaymentIntentSnapshot): Promise<Payment | null> {
    const invoice = this.lists.invoiced.has(pi.id);
    const session = await this.reader.sessionOfIntent(pi.id, expandsLineItems(this.rules));
    if (session) return sessionPayment(toSessionSnapshot(session), pi);
    return standalonePayment(pi, invoice || (await this.reader.paysInvoice(pi.id)));
  }

  /**
   * What is left once the lists are done: candidates that were not askable yet when last looked
   * at (they are now). A standalone-looking PaymentIntent may still belong to a session created
   * before the lookback, or pay an invoice. Only what the InvoicePayments list named is taken from
   * it: one it did not name is still asked about (its InvoicePayment may be newer than the window).
   */
  private async checkTheRest(): Promise<void> {
    const pending = [...this.candidates.values()].filter((pi) => !this.lists.sessionIntents.has(pi.id));
    this.candidates.clear();
    if (pending.length > 0) this.progress(`checking ${pending.length} standalone PaymentIntents`);
    for (const pi of pending) await this.checks.add(pi);
    await this.checks.drain();
  }
}

/**
 * What the lists have shown so far that decides a candidate: the PaymentIntents of the sessions
 * listed, those the InvoicePayments name, and how far each list has come.
 */
class ListsSoFar {
  /** The PaymentIntent ids of the sessions listed that would count on their own (see sessionOwns). */
  readonly sessionIntents: IdSet;
  /**
   * Under "all": the PaymentIntents of sessions listed that did not count yet (not succeeded: few).
   * Such a PaymentIntent that counts by the time the PaymentIntent list reaches it is asked for its
   * session, invoice or not.
   */
  private readonly uncountedSessionIntents: IdSet;
  /** Under "all": the PaymentIntents the InvoicePayments name. */
  readonly invoiced: IdSet;
  /** What the sessions list has covered so far (see decidedByInvoice). */
  readonly sessions = new Coverage();
  /** The PaymentIntents list's pieces, along which the InvoicePayments are listed. */
  readonly intents = new Coverage();
  readonly invoices = new Coverage();
  /** Once the sessions list is done, no session it lists can claim a candidate any more. */
  sessionsDone = false;
  private readonly began = Math.floor(Date.now() / 1000);

  constructor(
    readonly listAll: boolean,
    idSet: () => IdSet,
  ) {
    this.sessionIntents = idSet();
    this.uncountedSessionIntents = idSet();
    this.invoiced = idSet();
  }

  /**
   * A listed session's PaymentIntent. Only one that would count on its own is remembered (most do
   * not: Checkout puts metadata on the session). One that counts by the time the PaymentIntent list
   * reaches it (it succeeded, or got metadata, meanwhile) is checked as a candidate: its session is
   * found again, and the Planner decides a payment key once.
   */
  sessionOwns(piId: string, countsAlone: boolean): void {
    if (countsAlone) this.sessionIntents.add(piId);
    else if (this.listAll) this.uncountedSessionIntents.add(piId);
  }

  /**
   * Under "all": a candidate decided with no request, as soon as the lists show it. The
   * InvoicePayments name it (it pays an invoice); it was made long before the lists began; and the
   * sessions list has covered every second in which a session paid by it could have been created
   * (from a day before it, the session's lifetime, to its own second) without one claiming it (that
   * would have dropped the candidate). Not one of a listed session whose payment was not decided
   * then (not succeeded yet, so the session's payment may have been no payment): that one is asked.
   */
  decidedByInvoice(pi: PaymentIntentSnapshot): boolean {
    return (
      this.invoiced.has(pi.id) &&
      this.madeLongBefore(pi) &&
      !this.uncountedSessionIntents.has(pi.id) &&
      this.sessions.covers(pi.created - SESSION_LOOKBACK_SECONDS, pi.created + 1)
    );
  }

  /**
   * Nothing the lists could still show would spare asking about this candidate: the sessions list
   * is done, and under "all" the InvoicePayments list has been past the candidate's second (and an
   * hour after it, for an invoice paid a little later), so it would have named it already.
   */
  askable(pi: PaymentIntentSnapshot): boolean {
    return this.sessionsDone && (!this.listAll || this.invoices.covers(pi.created, pi.created + 3600));
  }

  /**
   * Made more than a day before the lists began (and an hour more, for the clocks): a Checkout
   * Session lives at most a day, so a session paid by this PaymentIntent was complete before the
   * lists began, and is listed by them.
   */
  private madeLongBefore(pi: PaymentIntentSnapshot): boolean {
    return pi.created < this.began - SESSION_LOOKBACK_SECONDS - 3600;
  }
}

/**
 * Hands payments to the sink in batches of at most BATCH, one batch at a time, in the order they
 * filled, each payment's line items read first where its credits need them.
 */
class Outlet {
  private buffer: Payment[] = [];
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly reader: StripeReader,
    private readonly rules: FetchRules,
    private readonly sink: PaymentSink,
  ) {}

  /** Queues the payments; resolves once every full batch so far has been taken by the sink. */
  async emit(payments: readonly Payment[]): Promise<void> {
    await fillLineItems(this.reader, payments, this.rules);
    for (const p of payments) {
      this.buffer.push(p);
      if (this.buffer.length >= BATCH) this.send();
    }
    await this.flushing;
  }

  /** Sends what is left and waits for the sink to take it. */
  async close(): Promise<void> {
    if (this.buffer.length > 0) this.send();
    await this.flushing;
  }

  private send(): void {
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(() => this.sink(batch));
  }
}
