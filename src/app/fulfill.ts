import type Stripe from 'stripe';
import {
  DEFAULT_STRIPE_API_BASE,
  keyIsLive,
  loadConfigFile,
  parseConfig,
  secondsSetting,
  type AppConfig,
} from '../config.js';
import { ConfigError, UsageError, maskKey } from '../errors.js';
import { migrateToLatest, openDatabase, parseDbUrl, type OpenDb } from '../ledger/db.js';
import { ledgerModes } from '../ledger/ledger.js';
import { verifyAppTables } from '../ledger/app-ledger.js';
import type { UsersTable } from '../ledger/users.js';
import type { PaymentDecision } from '../reconcile/types.js';
import { createStripeClient } from '../stripe/client.js';
import { fetchPaymentById } from '../stripe/payment-by-id.js';
import { StripeReader } from '../stripe/reader.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../stripe/retry.js';
import { webhookSubject } from '../stripe/webhook.js';
import { Planner, writePlan } from './plan-writer.js';
import { reversalItem, settleReversals, type ReversalItem } from './reversals.js';

/** What a webhook did: a payment's decision, or the refund's or dispute's item it named. */
export type WebhookOutcome = { payment: PaymentDecision } | { reversal: ReversalItem } | null;

export interface FulfillerOptions {
  /** The app's database: a SQLite path, `sqlite:PATH` or a Postgres URL (as `--db`). */
  db: string;
  stripeApiKey: string;
  stripeApiBase?: string;
  /** A config object (as the config file's JSON) or the path of a config file. */
  config?: string | Record<string, unknown>;
  /** Recorded with every entry written (default `webhook`). */
  actor?: string;
  /** How long one call keeps retrying Stripe (429, 5xx, timeouts) before it throws (default 60, as STRIPE_CREDITS_RETRY_SECONDS). */
  retrySeconds?: number;
  cwd?: string;
}

/**
 * Credits one payment by id with the very rules and payment key reconcile uses. Safe to call any
 * number of times, concurrently, and while reconcile runs: the unique (kind, payment_key) constraint
 * decides, and the answer is then `already_credited`.
 */
export class Fulfiller {
  private readonly config: AppConfig;
  private readonly stripe: Stripe;
  private readonly retry: RetryPolicy;
  private opened: Promise<{ open: OpenDb; users: UsersTable }> | null = null;

  constructor(private readonly opts: FulfillerOptions) {
    const cwd = opts.cwd ?? process.cwd();
    this.config = typeof opts.config === 'string' ? loadConfigFile(opts.config, true) : parseConfig(opts.config ?? {});
    this.stripe = createStripeClient({
      apiKey: opts.stripeApiKey,
      apiBase: opts.stripeApiBase ?? DEFAULT_STRIPE_API_BASE,
    });
    this.retry = {
      ...DEFAULT_RETRY,
      budgetMs: secondsSetting('retrySeconds', opts.retrySeconds, DEFAULT_RETRY.budgetMs, { max: 3600, zero: true }),
    };
    parseDbUrl(opts.db, cwd); // a bad URL is reported at once, not on the first payment
  }

  /** The database, opened and checked once (its users table as found), migrated. */
  private database(): Promise<{ open: OpenDb; users: UsersTable }> {
    this.opened ??= (async () => {
      const open = await openDatabase(parseDbUrl(this.opts.db, this.opts.cwd ?? process.cwd()), { readonly: false });
      try {
        const users = await verifyAppTables(open.db, this.config);
        await migrateToLatest(open.db);
        return { open, users };
      } catch (e) {
        await open.close();
        throw e;
      }
    })();
    this.opened.catch(() => (this.opened = null));
    return this.opened;
  }

  /** Fulfils a `cs_…` or `pi_…`: the decision, as an item of reconcile's JSON. */
  async fulfill(id: string): Promise<PaymentDecision> {
    return (await this.fulfillPayment(id, false))!;
  }

  /** `notPaymentIsNull`: a webhook's object that is not a credit purchase is no error, only nothing to do. */
  private async fulfillPayment(id: string, notPaymentIsNull: boolean): Promise<PaymentDecision | null> {
    const { open, users } = await this.database();
    const { db } = open;
    // A reader per call: one that failed (Stripe down past the retry budget) stops only this call's
    // remaining requests, never the calls after it.
    const reader = new StripeReader(this.stripe, this.retry, maskKey(this.opts.stripeApiKey));
    const fetched = await fetchPaymentById(reader, id, this.config);
    if (!fetched) throw new UsageError(`Stripe has no payment ${id}`);
    if (!fetched.payment) {
      if (notPaymentIsNull) return null;
      throw new UsageError(`${id} is not a payment: ${fetched.notPayment ?? 'unknown'}`);
    }
    const planner = new Planner(db, this.config, true, false, undefined, users);
    await planner.decide([fetched.payment]);
    const { plan } = planner;
    const { paymentKey } = fetched.payment;
    const decided = plan.find(paymentKey)!;
    const live = keyIsLive(this.opts.stripeApiKey);
    if (decided.livemode !== live || (await ledgerModes(db)).some((m) => m !== live)) {
      throw new ConfigError('test and live payments never mix in one ledger');
    }
    // The purchase (or review entry) and the local record; an already credited payment writes nothing.
    if (decided.status !== 'already_credited')
      await writePlan(db, plan, {
        runId: null,
        actor: this.opts.actor ?? 'webhook',
        adoption: this.config,
        snapshots: planner.snapshots,
      });
    // Read again: the writer turns `credited` into `already_credited` when someone else wrote it first.
    return plan.find(paymentKey)!;
  }

  /**
   * Verifies a webhook with the SDK and fulfils the events that can complete a purchase; returns
   * null for the others, and for those whose object is not a credit purchase (a subscription's
   * invoice PaymentIntent, a PaymentIntent without credit metadata, a subscription-mode session):
   * answering an error there would make Stripe retry it for days. A refund's or dispute's event
   * decides and writes that PaymentIntent's reversals as reconcile does. A bad signature throws an
   * error that says so.
   */
  async handleWebhook(
    rawBody: string | Buffer,
    signatureHeader: string,
    endpointSecret: string,
  ): Promise<WebhookOutcome> {
    const subject = webhookSubject(this.stripe, rawBody, signatureHeader, endpointSecret);
    if (subject?.kind === 'payment') {
      const payment = await this.fulfillPayment(subject.id, true);
      return payment && { payment };
    }
    if (subject?.kind !== 'reversals') return null;
    await this.refuseOtherMode(subject.livemode);
    const reversal = await this.settleIntent(subject.paymentIntent, subject.subject);
    return reversal && { reversal };
  }

  /**
   * A refund's or dispute's event of the other mode than the key's, or a ledger holding the other
   * mode's payments, is refused as a payment's is, before anything is read or written: the
   * PaymentIntent it names is not this ledger's to take credits back from.
   */
  private async refuseOtherMode(eventLive: boolean | null): Promise<void> {
    const live = keyIsLive(this.opts.stripeApiKey);
    const { open } = await this.database();
    if ((eventLive !== null && eventLive !== live) || (await ledgerModes(open.db)).some((m) => m !== live))
      throw new ConfigError('test and live payments never mix in one ledger');
  }

  /**
   * All refunds and disputes of one PaymentIntent decided under the `reversals` policy and written:
   * the item of the one the event named, else the newest (null when it has none).
   */
  private async settleIntent(paymentIntent: string, named: string | null): Promise<ReversalItem | null> {
    const { open } = await this.database();
    const reader = new StripeReader(this.stripe, this.retry, maskKey(this.opts.stripeApiKey));
    const { decisions } = await settleReversals([{ id: paymentIntent }], {
      db: open.db,
      reader,
      config: this.config,
      dryRun: false,
      toolTables: true,
      runId: null,
      actor: this.opts.actor ?? 'webhook',
    });
    const d = decisions.find((x) => x.id === named) ?? decisions.at(-1);
    return d ? reversalItem(d) : null;
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = null;
    if (opened) await (await opened).open.close();
  }
}
