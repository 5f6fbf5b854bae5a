/**
 * The vocabulary of the pure core. Plain data only: nothing here knows about the Stripe SDK,
 * the database or the process. The Stripe adapter maps API objects into these snapshots.
 */

/** Unix seconds; `until` is exclusive. */
export interface Window {
  since: number;
  until: number;
}

export type StandalonePolicy = 'with_metadata' | 'all' | 'none';

export interface MatchConfig {
  userIdKeys: string[];
  emailKeys: string[];
  byEmail: boolean;
  standalonePaymentIntents: StandalonePolicy;
}

export interface CreditsConfig {
  metadataKey: string;
  prices: Record<string, number>;
  unitAmountPerCredit: Record<string, number>;
  /**
   * Per currency (lower case), the least amount paid in minor units per credit: a payment paying
   * less than its credits cost at this floor goes to review (`amount_too_low`). Absent or `{}`: off.
   */
  minAmountPerCredit?: Record<string, number>;
}

/** SPEC "Reversals": what to do when a credited payment is refunded or disputed. */
export type ReversalPolicy = 'debit' | 'review' | 'ignore';

export interface ReversalsConfig {
  refunds: ReversalPolicy;
  disputes: ReversalPolicy;
}

export interface RulesConfig {
  match: MatchConfig;
  credits: CreditsConfig;
  maxCreditsPerPayment: number;
}

export interface LineItemSnapshot {
  priceId: string | null;
  quantity: number;
}

/** What the core needs of a Checkout Session. */
export interface SessionSnapshot {
  id: string;
  created: number;
  mode: string;
  status: string;
  paymentStatus: string;
  paymentIntentId: string | null;
  clientReferenceId: string | null;
  metadata: Record<string, string>;
  customerId: string | null;
  customerDetailsEmail: string | null;
  customerEmail: string | null;
  customerName: string | null;
  amountTotal: number | null;
  currency: string | null;
  livemode: boolean;
  /** null when not fetched (only needed by the price rule). */
  lineItems: LineItemSnapshot[] | null;
}

/** What the core needs of a PaymentIntent (with its latest charge's refund state folded in). */
export interface PaymentIntentSnapshot {
  id: string;
  created: number;
  status: string;
  amount: number;
  amountReceived: number;
  currency: string;
  customerId: string | null;
  metadata: Record<string, string>;
  receiptEmail: string | null;
  livemode: boolean;
  /** The latest charge is fully refunded. */
  refunded: boolean;
  amountRefunded: number;
}

/**
 * One payment: a Checkout Session (with its PaymentIntent when it has one) or a standalone
 * PaymentIntent. `paymentKey` is the PaymentIntent id when there is one, else the session id.
 */
export interface Payment {
  paymentKey: string;
  session: SessionSnapshot | null;
  paymentIntent: PaymentIntentSnapshot | null;
  /** When it was paid: the PaymentIntent's `created`, for a session without one the session's. */
  paidAt: number;
  /** A standalone PaymentIntent that pays an invoice (set by the adapter from InvoicePayments). */
  paysInvoice: boolean;
}

export interface User {
  id: string;
  email: string | null;
}

/** The users the payments of a batch may point at, looked up in bulk by the database adapter. */
export interface UserDirectory {
  byId(id: string): User | undefined;
  byCustomer(customerId: string): User[];
  /** `email` is already normalised (trimmed, lower case). */
  byEmail(email: string): User[];
}

export type PaymentStatus = 'credited' | 'would_credit' | 'already_credited' | 'needs_review' | 'pending' | 'skipped';

export type ReviewReason =
  | 'conflicting_ids'
  | 'ambiguous_customer'
  | 'ambiguous_email'
  | 'conflicting_emails'
  | 'no_user'
  | 'invalid_credits'
  | 'amount_too_low'
  | 'no_credit_rule';

export type SkipReason = 'subscription' | 'setup' | 'invoice' | 'refunded' | 'no_credits' | 'dismissed';

export type MatchedBy = 'client_reference_id' | `metadata.${string}` | 'customer' | 'email';

export type CreditRuleName = 'metadata' | 'prices' | 'unit_amount';

/** The decision for one payment: SPEC's JSON item plus what a person or the ledger needs. */
export interface PaymentDecision {
  paymentKey: string;
  checkoutSession: string | null;
  paymentIntent: string | null;
  amount: number | null;
  currency: string | null;
  userId: string | null;
  matchedBy: MatchedBy | null;
  credits: number | null;
  status: PaymentStatus;
  reason: ReviewReason | SkipReason | null;
  /**
   * What made the reason so, for people (only on some needs_review decisions, e.g. invalid_credits:
   * the metadata value); absent otherwise. Kept out of SPEC's required fields.
   */
  detail?: string;
  paidAt: number;
  livemode: boolean;
  creditRule: CreditRuleName | null;
  /** Ids from Stripe that resolved to no user (passed over by the chain). */
  unknownIds: string[];
  /** Users a person might pick (e.g. those behind an ambiguous email). */
  candidateUserIds: string[];
  emails: string[];
  /** The payment's Stripe customer id, if any. */
  customerId: string | null;
  /** The customer's name as Stripe saw it: a hint for people, never used to match. */
  name: string | null;
}

/**
 * What a credited payment's ledger entry is made of: its decision less what only people and the
 * local record need (the writer rebuilds this much of each from the compact plan, see writePlan).
 */
export type CreditToWrite = Pick<
  PaymentDecision,
  | 'paymentKey'
  | 'checkoutSession'
  | 'paymentIntent'
  | 'userId'
  | 'credits'
  | 'amount'
  | 'currency'
  | 'livemode'
  | 'matchedBy'
  | 'customerId'
>;

/** A refund as Stripe reports it (`GET /v1/refunds`). `requires_action` and `pending` have not taken money yet. */
export interface RefundSnapshot {
  id: string;
  /** Minor units, in the payment's currency. */
  amount: number;
  status: 'succeeded' | 'pending' | 'requires_action' | 'failed' | 'canceled';
  created: number;
}

/**
 * A dispute as Stripe reports it (`GET /v1/disputes`). The `warning_*` statuses are inquiries:
 * no money is withdrawn unless one becomes a chargeback.
 */
export interface DisputeSnapshot {
  id: string;
  /** Minor units disputed: usually the charge's amount. */
  amount: number;
  status:
    | 'warning_needs_response'
    | 'warning_under_review'
    | 'warning_closed'
    | 'needs_response'
    | 'under_review'
    | 'won'
    | 'lost'
    | 'prevented';
  created: number;
}

/** An entry of kind `reversal` or `reinstatement` already in the ledger, keyed by the refund or dispute id. */
export interface WrittenReversal {
  kind: 'reversal' | 'reinstatement';
  /** The `re_…` or `dp_…` id (the entry's payment key). */
  id: string;
  credits: number;
}

/**
 * Everything about one payment that its refunds and disputes are decided from. `refunds` and
 * `disputes` must be all of the payment's (`GET /v1/refunds?payment_intent=…`), not only a
 * window's: each share is a difference of running totals.
 */
export interface PaymentReversalInput {
  paymentKey: string;
  /** The payment's purchase entry, or null when the ledger never credited it. */
  purchase: { userId: string; credits: number } | null;
  /** What was paid, minor units (a session's `amount_total`, a standalone PaymentIntent's `amount_received`). */
  amountPaid: number;
  refunds: readonly RefundSnapshot[];
  disputes: readonly DisputeSnapshot[];
  /** The reversal and reinstatement entries the ledger holds for these refunds and disputes. */
  written: readonly WrittenReversal[];
}

export type ReversalStatus =
  'reversed' | 'would_reverse' | 'reinstated' | 'would_reinstate' | 'needs_review' | 'already_reversed' | 'skipped';

export type ReversalReviewReason = 'refunded_after_credit' | 'disputed_after_credit';

/**
 * Why a refund or dispute changes nothing: `ignored` (policy), `not_credited` (no purchase entry),
 * `nothing_to_reverse` (its share rounds to 0 credits), `pending` (a refund not settled, an open
 * inquiry), `not_taken` (a refund failed or canceled, a dispute won or an inquiry closed, with
 * nothing taken), `dismissed` (a person closed its review entry).
 */
export type ReversalSkipReason =
  'ignored' | 'not_credited' | 'nothing_to_reverse' | 'pending' | 'not_taken' | 'dismissed';

/** SPEC's `reversals` item, plus the entry kind the writer writes and what the id is. */
export interface ReversalDecision {
  /** The refund or dispute id: the payment key of the entry. */
  id: string;
  source: 'refund' | 'dispute';
  paymentKey: string;
  userId: string | null;
  /** Negative for a reversal, positive for a reinstatement; for a skipped one, what it would have been (0 if nothing). */
  credits: number;
  status: ReversalStatus;
  reason: ReversalReviewReason | ReversalSkipReason | null;
  kind: 'reversal' | 'reinstatement';
}

/** A purchase entry of the ledger as audit reads it (the tool's `credit_ledger` or a mapped app table). */
export interface AuditEntry {
  entryId: string;
  userId: string;
  credits: number;
  /** The Checkout Session or PaymentIntent id the entry names (`payment_key`, or the mapped `paymentRef`). */
  paymentRef: string;
  /** Written by a person (`assign`, with or without `--credits`): checked for existence, mode and duplicates only. */
  byPerson: boolean;
  /** The mode the entry was written in, where the ledger records it; null where it does not (a mapped app table). */
  livemode: boolean | null;
  /** Unix seconds. */
  createdAt: number;
}

/**
 * What Stripe says of the object an entry names: nothing (a 404), an object of the other mode (a
 * 404 saying "a similar object exists in test mode", or an id such as `cs_test_…` read with a live
 * key), or the object: for a PaymentIntent that belongs to a session, the session too, as for a
 * payment in reconcile.
 */
export type StripeLookup =
  | { found: 'none' }
  | { found: 'other_mode' }
  | {
      found: 'object';
      session: SessionSnapshot | null;
      paymentIntent: PaymentIntentSnapshot | null;
      /** A standalone PaymentIntent that pays an invoice. */
      paysInvoice: boolean;
    };

export interface AuditInput {
  entry: AuditEntry;
  stripe: StripeLookup;
  /**
   * The ledger's purchase entries that name this payment: by its session id or its PaymentIntent
   * id (this entry may be among them). The earliest is the payment's entry; the others are `duplicate`.
   */
  samePayment: readonly Pick<AuditEntry, 'entryId' | 'paymentRef' | 'createdAt'>[];
  /** All the payment's refunds and disputes, and the reversal entries written for them (see PaymentReversalInput). */
  refunds: readonly RefundSnapshot[];
  disputes: readonly DisputeSnapshot[];
  reversals: readonly WrittenReversal[];
}

export type AuditCode =
  | 'not_found'
  | 'not_paid'
  | 'other_mode'
  | 'not_a_credit_purchase'
  | 'wrong_user'
  | 'amount_differs'
  | 'duplicate'
  | 'refunded'
  | 'disputed';

/** SPEC's audit finding: the entry, what is wrong, and what Stripe backs instead. */
export interface AuditFinding {
  entryId: string;
  userId: string;
  credits: number;
  paymentRef: string;
  code: AuditCode;
  detail: string;
  /** The user and credits Stripe backs for this entry (null user, 0 credits: none). */
  expected: { userId: string | null; credits: number };
}
