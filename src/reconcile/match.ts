import type { MatchConfig, MatchedBy, Payment, ReviewReason, User, UserDirectory } from './types.js';

export type MatchResult =
  | { ok: true; user: User; matchedBy: MatchedBy; unknownIds: string[] }
  | {
      ok: false;
      reason: Extract<
        ReviewReason,
        'conflicting_ids' | 'ambiguous_customer' | 'ambiguous_email' | 'conflicting_emails' | 'no_user'
      >;
      candidateUserIds: string[];
      unknownIds: string[];
    };

export interface IdCandidate {
  field: MatchedBy;
  value: string;
}

function clean(v: string | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  const t = v.trim();
  return t === '' ? null : t;
}

/**
 * An id as the payment carries it: exact text, spaces included (an app's TEXT id may hold them), and
 * absent when blank. The users table decides whether spaces around a number may go (users.ts).
 */
function idText(v: string | null | undefined): string | null {
  if (v === null || v === undefined || v.trim() === '') return null;
  return v;
}

export function normaliseEmail(v: string | null | undefined): string | null {
  const t = clean(v);
  return t === null ? null : t.toLowerCase();
}

/** The user ids a payment carries, in the chain's order: client_reference_id, then metadata keys (session, then PaymentIntent). */
export function idCandidates(payment: Payment, cfg: MatchConfig): IdCandidate[] {
  const out: IdCandidate[] = [];
  const ref = idText(payment.session?.clientReferenceId);
  if (ref !== null) out.push({ field: 'client_reference_id', value: ref });
  for (const source of [payment.session?.metadata, payment.paymentIntent?.metadata]) {
    if (!source) continue;
    for (const key of cfg.userIdKeys) {
      const v = Object.prototype.hasOwnProperty.call(source, key) ? idText(source[key]) : null;
      if (v !== null) out.push({ field: `metadata.${key}`, value: v });
    }
  }
  return out;
}

/** The payment's Stripe customer id (the session's, else the PaymentIntent's). */
export function customerOf(payment: Payment): string | null {
  return clean(payment.session?.customerId) ?? clean(payment.paymentIntent?.customerId);
}

/** The emails a payment carries, normalised and de-duplicated, in the chain's order. */
export function emailCandidates(payment: Payment, cfg: MatchConfig): string[] {
  const raw: Array<string | null | undefined> = [];
  for (const source of [payment.session?.metadata, payment.paymentIntent?.metadata]) {
    if (!source) continue;
    for (const key of cfg.emailKeys) {
      if (Object.prototype.hasOwnProperty.call(source, key)) raw.push(source[key]);
    }
  }
  raw.push(payment.session?.customerDetailsEmail, payment.session?.customerEmail, payment.paymentIntent?.receiptEmail);
  const out: string[] = [];
  for (const r of raw) {
    const e = normaliseEmail(r);
    if (e !== null && !out.includes(e)) out.push(e);
  }
  return out;
}

/**
 * SPEC "Which user": ids, then Stripe customer (when the users table has that column), then email.
 * The first step that yields a user decides. Never by name, and never a new user.
 */
export function matchUser(
  payment: Payment,
  users: UserDirectory,
  cfg: MatchConfig,
  customerColumn: boolean,
): MatchResult {
  // 1. Ids: every id the payment carries must agree.
  const unknownIds: string[] = [];
  let first: { user: User; field: MatchedBy } | null = null;
  const resolved = new Map<string, User>();
  for (const c of idCandidates(payment, cfg)) {
    const user = users.byId(c.value);
    if (!user) {
      if (!unknownIds.includes(c.value)) unknownIds.push(c.value);
      continue;
    }
    resolved.set(user.id, user);
    if (!first) first = { user, field: c.field };
  }
  if (resolved.size > 1) {
    return { ok: false, reason: 'conflicting_ids', candidateUserIds: [...resolved.keys()], unknownIds };
  }
  if (first) return { ok: true, user: first.user, matchedBy: first.field, unknownIds };

  // 2. Stripe customer.
  const customer = customerColumn ? customerOf(payment) : null;
  if (customer !== null) {
    const found = users.byCustomer(customer);
    if (found.length > 1) {
      return { ok: false, reason: 'ambiguous_customer', candidateUserIds: found.map((u) => u.id), unknownIds };
    }
    if (found.length === 1) return { ok: true, user: found[0]!, matchedBy: 'customer', unknownIds };
  }

  // 3. Email: an email shared by several users is ambiguous (checked first); emails pointing at
  // different users conflict.
  if (cfg.byEmail) {
    const emails = emailCandidates(payment, cfg);
    const perEmail = emails.map((e) => users.byEmail(e));
    const ambiguous = perEmail.find((list) => list.length > 1);
    if (ambiguous) {
      return { ok: false, reason: 'ambiguous_email', candidateUserIds: ambiguous.map((u) => u.id), unknownIds };
    }
    const distinct = new Map<string, User>();
    for (const list of perEmail) for (const u of list) distinct.set(u.id, u);
    if (distinct.size > 1) {
      return { ok: false, reason: 'conflicting_emails', candidateUserIds: [...distinct.keys()], unknownIds };
    }
    const only = [...distinct.values()][0];
    if (only) return { ok: true, user: only, matchedBy: 'email', unknownIds };
  }
  return { ok: false, reason: 'no_user', candidateUserIds: [], unknownIds };
}
