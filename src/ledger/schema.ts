import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** Row types of the tables the tool owns (SPEC "Tables the tool owns"). Times are ISO-8601 UTC text. */

export interface CreditLedgerTable {
  id: Generated<number>;
  user_id: string;
  /** Signed: purchases are positive, manual adjustments either way. */
  credits: number;
  /** `purchase` for a payment, `manual` for an adjustment. */
  kind: string;
  /** The payment's key (PaymentIntent id, else Checkout Session id); NULL for manual entries. */
  payment_key: string | null;
  checkout_session_id: string | null;
  payment_intent_id: string | null;
  amount: number | null;
  currency: string | null;
  /** 1 live mode, 0 test mode (an integer so both engines store it alike). */
  livemode: number;
  actor: string;
  reason: string | null;
  run_id: number | null;
  created_at: string;
  /** How a purchase's payment was matched to its user (migration 0009; NULL on older entries and manual ones). */
  matched_by: string | null;
  /** The Stripe customer a purchase's payment was paid as, if any (migration 0009). */
  customer_id: string | null;
}

export interface RunsTable {
  id: Generated<number>;
  mode: string;
  since: string;
  until: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  /** JSON of ReconcileCounts. */
  counts: string | null;
  credits_written: ColumnType<number, number | undefined, number>;
  actor: string;
  error: string | null;
  /** How the run found its payments: `window` (a scan by payment time) or `events`. */
  source: string | null;
  requests: number | null;
  /** JSON array of things the run wants a person to know (e.g. a gap it could not cover). */
  notes: string | null;
}

export interface LockTable {
  name: string;
  /** Random per acquisition: only the holder's own heartbeat and release touch the row. */
  token: string;
  holder: string;
  host: string;
  pid: number;
  acquired_at: string;
  heartbeat_at: string;
}

export interface StateTable {
  key: string;
  value: string;
  updated_at: string;
}

export interface ReviewTable {
  payment_key: string;
  checkout_session_id: string | null;
  payment_intent_id: string | null;
  reason: string;
  /** What made the reason so (invalid_credits: the bad value), for people (migration 0010; else NULL). */
  detail: string | null;
  amount: number | null;
  currency: string | null;
  livemode: number;
  paid_at: string;
  /** JSON arrays. */
  emails: string;
  candidate_user_ids: string;
  unknown_ids: string;
  name: string | null;
  /** `open`, `resolved` (credited later) or `dismissed` (closed by a person without crediting). */
  status: string;
  first_run_id: number | null;
  last_run_id: number | null;
  created_at: string;
  updated_at: string;
  resolved_at: string | null;
  resolved_by: string | null;
  resolution: string | null;
  /**
   * Migration 0011: on a refund's or dispute's entry (keyed by its `re_…`/`dp_…` id) `refund` or
   * `dispute`, the payment key of the payment it takes from, and the user and credits at stake
   * (negative); NULL on a payment's entry.
   */
  source: string | null;
  reversal_of: string | null;
  user_id: string | null;
  credits: number | null;
}

/** Every payment the tool has decided, with its latest status (for `lookup`). */
export interface PaymentsTable {
  payment_key: string;
  checkout_session_id: string | null;
  payment_intent_id: string | null;
  customer_id: string | null;
  /** JSON array of normalised emails. */
  emails: string;
  user_id: string | null;
  matched_by: string | null;
  status: string;
  reason: string | null;
  credits: number | null;
  amount: number | null;
  currency: string | null;
  livemode: number;
  paid_at: string;
  first_seen_at: string;
  last_seen_at: string;
  last_run_id: number | null;
  /**
   * Migration 0013: a pending or needs_review payment's Payment as JSON, what an incremental run
   * decides it again from; NULL otherwise, and on records written before.
   */
  snapshot: string | null;
}

/** Payments recorded as already handled by `baseline`. */
export interface BaselineTable {
  payment_key: string;
  checkout_session_id: string | null;
  payment_intent_id: string | null;
  paid_at: string;
  baselined_at: string;
  until: string;
  actor: string;
}

/** A person's decision on an entry `audit` listed (migration 0012): `accepted`, or `reversed` by a correction entry. */
export interface AuditResolutionsTable {
  /** `credit_ledger`, or the mapped app table (schema-qualified when configured so). */
  ledger: string;
  entry_id: string;
  payment_ref: string;
  user_id: string;
  credits: number;
  outcome: 'accepted' | 'reversed';
  /** The correction entry's credit_ledger id when reversed. */
  correction_id: number | null;
  actor: string;
  reason: string;
  created_at: string;
}

/** A person who may sign in to the support console (migration 0013). */
export interface ConsoleUsersTable {
  name: string;
  role: string;
  password_hash: string;
  created_at: string;
  failed_attempts: Generated<number>;
  locked_until: string | null;
}

/** A signed-in console session; `id_hash` is the SHA-256 of the cookie's value, never the value. */
export interface ConsoleSessionsTable {
  id_hash: string;
  user_name: string;
  csrf_token: string;
  created_at: string;
  expires_at: string;
}

export interface Database {
  credit_ledger: CreditLedgerTable;
  stripe_credits_runs: RunsTable;
  stripe_credits_review: ReviewTable;
  stripe_credits_payments: PaymentsTable;
  stripe_credits_lock: LockTable;
  stripe_credits_state: StateTable;
  stripe_credits_baseline: BaselineTable;
  stripe_credits_audit_resolutions: AuditResolutionsTable;
  stripe_credits_console_users: ConsoleUsersTable;
  stripe_credits_console_sessions: ConsoleSessionsTable;
}

export const TOOL_TABLES = [
  'credit_ledger',
  'stripe_credits_runs',
  'stripe_credits_review',
  'stripe_credits_payments',
  'stripe_credits_lock',
  'stripe_credits_state',
  'stripe_credits_baseline',
  'stripe_credits_audit_resolutions',
  'stripe_credits_console_users',
  'stripe_credits_console_sessions',
] as const;

export type LedgerRow = Selectable<CreditLedgerTable>;
export type NewLedgerRow = Insertable<CreditLedgerTable>;
export type RunRow = Selectable<RunsTable>;
export type ReviewRow = Selectable<ReviewTable>;
export type PaymentRecordRow = Selectable<PaymentsTable>;
