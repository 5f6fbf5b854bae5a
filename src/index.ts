/**
 * stripe-credits as a library: a webhook handler runs the very decisions reconcile runs and
 * writes under the same payment key.
 *
 *   const credits = createStripeCredits({ db: 'data/app.db', stripeApiKey: process.env.STRIPE_API_KEY! });
 *   const item = await credits.fulfill('cs_…');
 *   const handled = await credits.handleWebhook(rawBody, signatureHeader, endpointSecret);
 *   await credits.close();
 */
import { Fulfiller, type FulfillerOptions } from './app/fulfill.js';
import { jsonItem, type FulfilledItem } from './app/decision-json.js';
import type { ReversalItem } from './app/reversals.js';

export type StripeCreditsOptions = FulfillerOptions;
export type { FulfilledItem, ReversalItem };

export interface StripeCredits {
  /** Credits a payment (`cs_…` or `pi_…`) at most once; safe concurrently and while reconcile runs. */
  fulfill(id: string): Promise<FulfilledItem>;
  /**
   * Verifies the signature, then fulfils `checkout.session.completed`, `…async_payment_succeeded` and
   * `payment_intent.succeeded`; for a refund's or dispute's event (`charge.refunded`, `refund.updated`,
   * `refund.failed`, `charge.dispute.created`, `charge.dispute.closed`) takes credits back or gives them
   * back under the `reversals` policy and returns that refund's or dispute's item; null for other
   * events and for objects that are not credit purchases.
   */
  handleWebhook(
    rawBody: string | Buffer,
    signatureHeader: string,
    endpointSecret: string,
  ): Promise<FulfilledItem | ReversalItem | null>;
  close(): Promise<void>;
}

export function createStripeCredits(options: StripeCreditsOptions): StripeCredits {
  const f = new Fulfiller(options);
  return {
    fulfill: async (id) => jsonItem(await f.fulfill(id)),
    handleWebhook: async (body, sig, secret) => {
      const d = await f.handleWebhook(body, sig, secret);
      if (d === null) return null;
      return 'payment' in d ? jsonItem(d.payment) : d.reversal;
    },
    close: () => f.close(),
  };
}

export { CliError, WebhookSignatureError } from './errors.js';
