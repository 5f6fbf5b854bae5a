/**
 * In-memory builders for the pure core: snapshots with sensible defaults, payments built the way
 * the Stripe adapter would build them, and a UserDirectory over a plain array. No mocks.
 */
import type { DecideContext } from '../../src/reconcile/decide.js';
import type {
  CreditsConfig,
  MatchConfig,
  Payment,
  PaymentIntentSnapshot,
  RulesConfig,
  SessionSnapshot,
  User,
  UserDirectory,
} from '../../src/reconcile/types.js';

/** A fixed instant (2023-11-14T22:13:20Z) that all default timestamps hang off. */
export const T0 = 1_700_000_000;
export const HOUR = 3600;

export function session(overrides: Partial<SessionSnapshot> = {}): SessionSnapshot {
  return {
    id: 'cs_1',
    created: T0,
    mode: 'payment',
    status: 'complete',
    paymentStatus: 'paid',
    paymentIntentId: 'pi_1',
    clientReferenceId: null,
    metadata: {},
    customerId: null,
    customerDetailsEmail: null,
    customerEmail: null,
    customerName: null,
    amountTotal: 1000,
    currency: 'usd',
    livemode: false,
    lineItems: null,
    ...overrides,
  };
}

export function intent(overrides: Partial<PaymentIntentSnapshot> = {}): PaymentIntentSnapshot {
  return {
    id: 'pi_1',
    created: T0,
    status: 'succeeded',
    amount: 1000,
    amountReceived: 1000,
    currency: 'usd',
    customerId: null,
    metadata: {},
    receiptEmail: null,
    livemode: false,
    refunded: false,
    amountRefunded: 0,
    ...overrides,
  };
}

/**
 * A Checkout Session payment. `pi` null builds a session without a PaymentIntent (key = session id);
 * otherwise the PaymentIntent's id defaults to the session's `paymentIntentId` (or 'pi_1') and the
 * session points at it.
 */
export function checkout(s: Partial<SessionSnapshot> = {}, pi: Partial<PaymentIntentSnapshot> | null = {}): Payment {
  const paymentIntent = pi === null ? null : intent({ id: s.paymentIntentId ?? 'pi_1', ...pi });
  const sess = session({ ...s, paymentIntentId: paymentIntent?.id ?? null });
  return {
    paymentKey: paymentIntent?.id ?? sess.id,
    session: sess,
    paymentIntent,
    paidAt: paymentIntent?.created ?? sess.created,
    paysInvoice: false,
  };
}

/** A standalone PaymentIntent payment. */
export function standalone(pi: Partial<PaymentIntentSnapshot> = {}, paysInvoice = false): Payment {
  const paymentIntent = intent(pi);
  return { paymentKey: paymentIntent.id, session: null, paymentIntent, paidAt: paymentIntent.created, paysInvoice };
}

export interface TestUser {
  id: string;
  email: string | null;
  stripeCustomerId?: string | null;
}

function norm(email: string | null | undefined): string | null {
  if (email === null || email === undefined) return null;
  const t = email.trim().toLowerCase();
  return t === '' ? null : t;
}

/** An in-memory users table: ids exact, emails trimmed and case-insensitive. */
export function directory(users: readonly TestUser[]): UserDirectory {
  const asUser = (u: TestUser): User => ({ id: u.id, email: u.email });
  return {
    byId: (id) => {
      const u = users.find((x) => x.id === id);
      return u ? asUser(u) : undefined;
    },
    byCustomer: (customerId) =>
      users.filter((u) => u.stripeCustomerId != null && u.stripeCustomerId === customerId).map(asUser),
    byEmail: (email) => {
      const wanted = norm(email);
      return wanted === null ? [] : users.filter((u) => norm(u.email) === wanted).map(asUser);
    },
  };
}

export interface RulesOverrides {
  match?: Partial<MatchConfig>;
  credits?: Partial<CreditsConfig>;
  maxCreditsPerPayment?: number;
}

/** SPEC's default config, with overrides. */
export function rules(o: RulesOverrides = {}): RulesConfig {
  return {
    match: {
      userIdKeys: ['user_id'],
      emailKeys: ['user_email'],
      byEmail: true,
      standalonePaymentIntents: 'with_metadata',
      ...o.match,
    },
    credits: { metadataKey: 'credits', prices: {}, unitAmountPerCredit: {}, ...o.credits },
    maxCreditsPerPayment: o.maxCreditsPerPayment ?? 100_000,
  };
}

export function matchConfig(o: Partial<MatchConfig> = {}): MatchConfig {
  return rules({ match: o }).match;
}

export function creditsConfig(o: Partial<CreditsConfig> = {}): CreditsConfig {
  return rules({ credits: o }).credits;
}

export interface ContextOverrides extends RulesOverrides {
  users?: readonly TestUser[];
  customerColumn?: boolean;
  /** Ids (payment key, session id or PaymentIntent id) the ledger already holds. */
  credited?: readonly string[];
  dryRun?: boolean;
}

export function context(o: ContextOverrides = {}): DecideContext {
  const credited = new Set(o.credited ?? []);
  return {
    rules: rules(o),
    users: directory(o.users ?? []),
    customerColumn: o.customerColumn ?? false,
    isCredited: (p) =>
      credited.has(p.paymentKey) ||
      (p.session !== null && credited.has(p.session.id)) ||
      (p.paymentIntent !== null && credited.has(p.paymentIntent.id)),
    dryRun: o.dryRun ?? false,
  };
}
