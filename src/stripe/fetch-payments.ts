import type Stripe from 'stripe';
import { needsLineItems } from '../reconcile/credits.js';
import { IdTable } from '../reconcile/id-table.js';
import {
  SESSION_LOOKBACK_SECONDS,
  inWindow,
  sessionPayment,
  standaloneCounts,
  standalonePayment,
} from '../reconcile/select.js';
import type { CreditsConfig, MatchConfig, Payment, PaymentIntentSnapshot, Window } from '../reconcile/types.js';
import { expandedIntent, toPaymentIntentSnapshot, toSessionSnapshot } from './map.js';
import { mapLimit, PAGE, StripeReader, WorkQueue, type Progress } from './reader.js';
import { Coverage, scanAlong, scanCreated, DEFAULT_SCAN, type ScanOptions } from './scan.js';
import { paysInvoice, sessionListExpand, sessionOfIntent } from './fetch-payment.js';

export { mapLimit, StripeReader, type Progress } from './reader.js';

const INTENT_EXPAND = ['data.latest_charge'];

export interface FetchRules {
  match: MatchConfig;
  credits: CreditsConfig;
}

/** Receives payments in batches as they are found; the caller decides them and drops the Stripe objects. */
export type PaymentSink = (batch: Payment[]) => Promise<void>;

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
 *   soon as the sessions list has covered the day before it (settledInvoice);
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
  progress: Progress = () => {},
  scan: ScanOptions = DEFAULT_SCAN,
): Promise<void> {
  const { stripe } = reader;
  const listsBegan = Math.floor(Date.now() / 1000);
  // The PaymentIntent ids of every session listed (about as many as there are payments): outside the
  // JavaScript heap, like the plan's ids.
  const sessionPiIds = new IdTable();
  // Under "all": the PaymentIntents of sessions listed that were not remembered above because they
  // did not count yet (not succeeded: few). Such a PaymentIntent that counts by the time the
  // PaymentIntent list reaches it is asked for its session, invoice or not (see below).
  const uncountedSessionPiIds = new IdTable();
  const listAll = rules.match.standalonePaymentIntents === 'all';
  const candidates = new Map<string, PaymentIntentSnapshot>();
  // What the sessions list has covered so far (see settledInvoice); the PaymentIntents list's pieces,
  // along which the InvoicePayments are listed.
  const sessionsListed = new Coverage();
  const intentsListed = new Coverage();
  const invoicesListed = new Coverage();
  // Filled by the InvoicePayments list (under "all"), declared here for settledInvoice.
  const invoicePiIds = new IdTable();
  let buffer: Payment[] = [];
  let sessions = 0;
  let intents = 0;
  // Batches of at most BATCH go to the sink one at a time, in the order they filled.
  let flushing: Promise<void> = Promise.resolve();
  const send = () => {
    const batch = buffer;
    buffer = [];
    flushing = flushing.then(() => sink(batch));
  };
  const emit = async (payments: readonly Payment[]) => {
    const needItems = payments.filter((p) => p.session?.lineItems === null && needsLineItems(p, rules.credits));
    await mapLimit(needItems, 8, async (p) => {
      if (p.session) p.session = { ...p.session, lineItems: await reader.listLineItems(p.session.id) };
    });
    for (const p of payments) {
      buffer.push(p);
      if (buffer.length >= BATCH) send();
    }
    await flushing;
  };

  // Made more than a day before the lists began (and an hour more, for the clocks): a Checkout
  // Session lives at most a day, so a session paid by this PaymentIntent was complete before the
  // lists began, and is listed by them.
  const settledLongBefore = (pi: PaymentIntentSnapshot) => pi.created < listsBegan - SESSION_LOOKBACK_SECONDS - 3600;
  // Under "all": a candidate decided with no request, as soon as the lists show it. The
  // InvoicePayments name it (it pays an invoice); it was made long before the lists began; and the
  // sessions list has covered every second in which a session paid by it could have been created
  // (from a day before it, the session's lifetime, to its own second) without one claiming it (that
  // would have dropped the candidate). Not one of a listed session whose payment was not decided
  // then (not succeeded yet, so the session's payment may have been no payment): that one is asked.
  const settledInvoice = (pi: PaymentIntentSnapshot) =>
    invoicePiIds.has(pi.id) &&
    settledLongBefore(pi) &&
    !uncountedSessionPiIds.has(pi.id) &&
    sessionsListed.covers(pi.created - SESSION_LOOKBACK_SECONDS, pi.created + 1);
  // A candidate that must be asked about: its session (one not listed, or completed while the lists
  // ran) and whether it pays an invoice (unless the InvoicePayments named it). Asked as soon as
  // nothing the lists could still show would spare the requests (askable), eight at a time, the
  // PaymentIntents list held back while a thousand wait: not held, snapshot and all, until the
  // lists end.
  // (By the time it is asked the sessions list is done, so settledInvoice is the rule above less
  // its wait; the InvoicePayments may have named it since it was queued.)
  let checked = 0;
  const check = async (pi: PaymentIntentSnapshot) => {
    const invoice = invoicePiIds.has(pi.id);
    let p: Payment | null;
    if (settledInvoice(pi)) p = standalonePayment(pi, true);
    else {
      const session = await sessionOfIntent(reader, pi.id, rules);
      p = session
        ? sessionPayment(toSessionSnapshot(session), pi)
        : standalonePayment(pi, invoice || (await paysInvoice(reader, pi.id)));
    }
    checked += 1;
    if (p) await emit([p]);
  };
  const checks = new WorkQueue<PaymentIntentSnapshot>(8, BATCH, check);
  // Once the sessions list is done, no session it lists can claim a candidate any more; under
  // "all", once the InvoicePayments list has been past the candidate's second (and an hour after
  // it, for an invoice paid a little later), it would have named it already.
  let sessionsDone = false;
  const askable = (pi: PaymentIntentSnapshot) =>
    sessionsDone && (!listAll || invoicesListed.covers(pi.created, pi.created + 3600));
  // A candidate seen by the lists: decided now, asked about now, or kept for later.
  const settle = (pi: PaymentIntentSnapshot, settled: Payment[], ask: PaymentIntentSnapshot[]): boolean => {
    if (settledInvoice(pi)) settled.push(standalonePayment(pi, true));
    else if (askable(pi)) ask.push(pi);
    else return false;
    return true;
  };
  const hand = async (settled: Payment[], ask: PaymentIntentSnapshot[]) => {
    for (const pi of ask) checks.push(pi);
    await emit(settled);
  };
  // The candidates kept are looked over again when their number has doubled since the last look
  // (each costs a constant share of looking in all), and when the sessions list is done.
  let sweepAt = BATCH;
  const sweep = async (now = false) => {
    if (!now && candidates.size < sweepAt) return;
    const settled: Payment[] = [];
    const ask: PaymentIntentSnapshot[] = [];
    for (const pi of candidates.values()) if (settle(pi, settled, ask)) candidates.delete(pi.id);
    sweepAt = Math.max(BATCH, 2 * candidates.size);
    await hand(settled, ask);
  };

  const sessionScan = scanCreated<Stripe.Checkout.Session>(
    reader,
    'list Checkout Sessions',
    'sessions.list',
    (created, starting_after) =>
      stripe.checkout.sessions.list({
        status: 'complete',
        created,
        limit: PAGE,
        starting_after,
        expand: sessionListExpand(rules),
      }),
    { gte: window.since - SESSION_LOOKBACK_SECONDS, lt: window.until },
    async (page) => {
      const found: Payment[] = [];
      for (const s of page) {
        const session = toSessionSnapshot(s);
        const pi = expandedIntent(s);
        if (session.paymentIntentId) {
          // Only a PaymentIntent that would count on its own is remembered (most do not: Checkout
          // puts metadata on the session). One that counts by the time the PaymentIntent list
          // reaches it (it succeeded, or got metadata, meanwhile) is checked as a candidate: its
          // session is found again, and the Planner decides a payment key once.
          if (
            pi === null ||
            standaloneCounts(
              pi,
              rules.match.standalonePaymentIntents,
              rules.credits.metadataKey,
              rules.match.userIdKeys,
            )
          ) {
            sessionPiIds.push(session.paymentIntentId);
          } else if (listAll) uncountedSessionPiIds.push(session.paymentIntentId);
          candidates.delete(session.paymentIntentId);
        }
        const p = sessionPayment(session, pi);
        if (p && inWindow(p.paidAt, window)) found.push(p);
      }
      sessions += page.length;
      progress(`${sessions} Checkout Sessions and ${intents} PaymentIntents read`);
      await emit(found);
      await sweep();
    },
    scan,
    sessionsListed,
  ).then(() => {
    sessionsDone = true;
    return sweep(true);
  });

  const intentScan = scanCreated<Stripe.PaymentIntent>(
    reader,
    'list PaymentIntents',
    'payment_intents.list',
    (created, starting_after) =>
      stripe.paymentIntents.list({ created, limit: PAGE, starting_after, expand: INTENT_EXPAND }),
    { gte: window.since, lt: window.until },
    async (page) => {
      const settled: Payment[] = [];
      const ask: PaymentIntentSnapshot[] = [];
      for (const raw of page) {
        if (sessionPiIds.has(raw.id)) continue;
        const pi = toPaymentIntentSnapshot(raw);
        if (
          standaloneCounts(pi, rules.match.standalonePaymentIntents, rules.credits.metadataKey, rules.match.userIdKeys)
        ) {
          if (!settle(pi, settled, ask)) candidates.set(pi.id, pi);
        }
      }
      intents += page.length;
      progress(
        `${sessions} Checkout Sessions and ${intents} PaymentIntents read${checked > 0 ? `, ${checked} standalone PaymentIntents checked` : ''}`,
      );
      await hand(settled, ask);
      await sweep();
      // The PaymentIntents list, which finds the candidates, waits while a thousand are to be
      // asked about (the other lists do not: they only let candidates be decided).
      await checks.roomy();
    },
    scan,
    intentsListed,
  );
  // Under the "all" policy every PaymentIntent no session owns is a candidate, subscription and
  // invoice payments included: the InvoicePayments of the window are listed too, side by side, so
  // that a PaymentIntent they name needs no request of its own to say it pays an invoice. (Not
  // under the other policies: their candidates are few, and the list would cost more than it saves.)
  const invoiceScan = listAll
    ? scanAlong<Stripe.InvoicePayment>(
        reader,
        'list InvoicePayments',
        'invoice_payments.list',
        (created, starting_after) => stripe.invoicePayments.list({ created, limit: PAGE, starting_after }),
        // An invoice's payment is recorded when its PaymentIntent is made, or later: from the
        // sessions' lookback on, as far as the window goes.
        { gte: window.since - SESSION_LOOKBACK_SECONDS, lt: window.until },
        (page) => {
          for (const ip of page) {
            const pi = ip.payment?.payment_intent;
            const id = typeof pi === 'string' ? pi : (pi?.id ?? null);
            if (id) invoicePiIds.push(id);
          }
          return sweep();
        },
        intentsListed,
        invoicesListed,
      )
    : Promise.resolve();
  await Promise.all([sessionScan, intentScan, invoiceScan]);

  // What is left: candidates that were not askable yet when last looked at (they are now). A
  // standalone-looking PaymentIntent may still belong to a session created before the lookback,
  // or pay an invoice. Only what the InvoicePayments list named is taken from it: one it did not
  // name is still asked about (its InvoicePayment may be newer than the window, say).
  const pending = [...candidates.values()].filter((pi) => !sessionPiIds.has(pi.id));
  candidates.clear();
  if (pending.length > 0) progress(`checking ${pending.length} standalone PaymentIntents`);
  for (const pi of pending) await checks.add(pi);
  await checks.drain();
  if (buffer.length > 0) send();
  await flushing;
}
