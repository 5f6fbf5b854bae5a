import { sql, type Kysely } from 'kysely';
import { UsageError } from '../errors.js';
import type { AuditEntry } from '../reconcile/types.js';
import { insertAppCredits, moveBalances } from './app-ledger.js';
import { entriesNaming, ledgerName, type AuditLedger } from './audit.js';
import { engineFor, writeTransaction } from './engine.js';
import { ledgerModes, nowIso, type Adoption } from './ledger.js';
import { tableRef } from './introspect.js';
import type { Database } from './schema.js';

/**
 * `audit resolve ENTRY --reason TEXT [--reverse]`: a person closes one entry audit listed. Without
 * `--reverse` the entry is accepted as it is; with it a `correction` entry takes its credits back.
 * Both are a row of stripe_credits_audit_resolutions, whose primary key (ledger, entry) makes a
 * second resolution of one entry impossible, also between people resolving it at once.
 */

export interface AuditResolution {
  ledger: string;
  entryId: string;
  paymentRef: string;
  userId: string;
  credits: number;
  outcome: 'accepted' | 'reversed';
  /** The correction entry (credit_ledger.id) when reversed. */
  correctionId: number | null;
  actor: string;
  reason: string;
  createdAt: string;
}

/**
 * The correction's key under the unique (kind, payment_key) index, once per entry. On the tool's
 * ledger, the purchase's own payment key (unique among purchases), so that `lookup` shows the
 * correction with its payment. On a mapped table several rows may name one payment: REF#ID.
 */
function correctionKey(ledger: AuditLedger, entry: Pick<AuditEntry, 'entryId' | 'paymentRef'>): string {
  if (ledger.kind === 'own') return entry.paymentRef;
  return entry.entryId.startsWith(`${entry.paymentRef}#`) ? entry.entryId : `${entry.paymentRef}#${entry.entryId}`;
}

/** The payment's ids the correction carries: the purchase's on the tool's ledger, else from the reference. */
async function correctionIds(
  trx: Kysely<Database>,
  ledger: AuditLedger,
  entry: AuditEntry,
): Promise<{ checkout_session_id: string | null; payment_intent_id: string | null }> {
  if (ledger.kind === 'own') {
    const row = await trx
      .selectFrom('credit_ledger')
      .select(['checkout_session_id', 'payment_intent_id'])
      .where('id', '=', Number(entry.entryId))
      .executeTakeFirst();
    if (row) return row;
  }
  const ref = entry.paymentRef;
  return {
    checkout_session_id: ref.startsWith('cs_') ? ref : null,
    payment_intent_id: ref.startsWith('pi_') ? ref : null,
  };
}

/** A purchase entry by the id `audit --json` prints, or undefined. */
export async function auditEntryById(
  db: Kysely<Database>,
  ledger: AuditLedger,
  entryId: string,
): Promise<AuditEntry | undefined> {
  if (ledger.kind === 'own') {
    if (!/^[1-9]\d{0,15}$/.test(entryId)) return undefined;
    const row = await db
      .selectFrom('credit_ledger')
      .select('payment_key')
      .where('id', '=', Number(entryId))
      .where('kind', '=', 'purchase')
      .executeTakeFirst();
    if (!row?.payment_key) return undefined;
    return (await entriesNaming(db, ledger, [row.payment_key])).find((e) => e.entryId === entryId);
  }
  const ref = ledger.key ? await appRefOfKey(db, ledger, entryId) : /^(.+)#\d+$/.exec(entryId)?.[1];
  if (!ref) return undefined;
  return (await entriesNaming(db, ledger, [ref])).find((e) => e.entryId === entryId);
}

/** The reference of the app's row with this primary key (compared as text, as audit prints it). */
async function appRefOfKey(
  db: Kysely<Database>,
  ledger: Extract<AuditLedger, { kind: 'mapped' }>,
  key: string,
): Promise<string | undefined> {
  const { asText } = engineFor(db);
  const r = await sql<{
    ref: string | null;
  }>`SELECT ${asText(sql.ref(ledger.mapping.columns.paymentRef))} AS ref FROM ${tableRef(ledger.mapping.schema, ledger.mapping.table)} WHERE ${asText(sql.ref(ledger.key!))} = ${key}`.execute(
    db,
  );
  return r.rows[0]?.ref?.trim() || undefined;
}

/**
 * Resolves one entry. Refuses (UsageError, exit 2, nothing written) an entry that is not a
 * purchase entry of this ledger, and one resolved already: the resolution row is the transaction's
 * first write, so of two resolving at once the second finds the first's row and writes nothing.
 */
export async function resolveAuditEntry(
  db: Kysely<Database>,
  ledger: AuditLedger,
  adoption: Adoption,
  o: { entryId: string; actor: string; reason: string; reverse: boolean },
): Promise<AuditResolution> {
  const entry = await auditEntryById(db, ledger, o.entryId);
  if (!entry)
    throw new UsageError(
      `${ledgerName(ledger)} has no purchase entry ${o.entryId}`,
      "use an entryId that 'stripe-credits audit --json' prints",
    );
  // An entry of the app's table records no mode: the correction takes the ledger's, as adjust does.
  const modes = entry.livemode === null ? await ledgerModes(db) : [];
  const livemode = entry.livemode ?? (modes.length === 1 && modes[0] === true);
  return writeTransaction(db, async (trx: Kysely<Database>) => {
    const at = nowIso();
    const res: AuditResolution = {
      ledger: ledgerName(ledger),
      entryId: entry.entryId,
      paymentRef: entry.paymentRef,
      userId: entry.userId,
      credits: entry.credits,
      outcome: o.reverse ? 'reversed' : 'accepted',
      correctionId: null,
      actor: o.actor,
      reason: o.reason,
      createdAt: at,
    };
    if (!(await insertResolution(trx, res))) throw await alreadyResolved(trx, res);
    if (o.reverse) {
      res.correctionId = await insertCorrection(trx, ledger, adoption, entry, { ...o, livemode, at });
      await trx
        .updateTable('stripe_credits_audit_resolutions')
        .set({ correction_id: res.correctionId })
        .where('ledger', '=', res.ledger)
        .where('entry_id', '=', res.entryId)
        .execute();
    }
    return res;
  });
}

async function insertResolution(trx: Kysely<Database>, r: AuditResolution): Promise<boolean> {
  const row = await trx
    .insertInto('stripe_credits_audit_resolutions')
    .values({
      ledger: r.ledger,
      entry_id: r.entryId,
      payment_ref: r.paymentRef,
      user_id: r.userId,
      credits: r.credits,
      outcome: r.outcome,
      correction_id: null,
      actor: r.actor,
      reason: r.reason,
      created_at: r.createdAt,
    })
    .onConflict((oc) => oc.columns(['ledger', 'entry_id']).doNothing())
    .returning('entry_id')
    .executeTakeFirst();
  return row !== undefined;
}

async function alreadyResolved(trx: Kysely<Database>, r: AuditResolution): Promise<UsageError> {
  const before = await trx
    .selectFrom('stripe_credits_audit_resolutions')
    .selectAll()
    .where('ledger', '=', r.ledger)
    .where('entry_id', '=', r.entryId)
    .executeTakeFirst();
  const what = before?.outcome === 'reversed' ? 'reversed' : 'accepted';
  return new UsageError(
    `entry ${r.entryId} was resolved already (${what} by ${before?.actor ?? '?'} at ${before?.created_at ?? '?'}: ${before?.reason ?? ''}); nothing written`,
  );
}

/**
 * The `correction` entry taking the entry's credits back from the user it credited; with a mapped
 * ledger also a row of the app's table (its `setManual` constants, no payment reference: a unique
 * index on it must not refuse the row), and the balance column moves, as for `adjust`.
 */
async function insertCorrection(
  trx: Kysely<Database>,
  ledger: AuditLedger,
  adoption: Adoption,
  entry: AuditEntry,
  o: { actor: string; reason: string; livemode: boolean; at: string },
): Promise<number> {
  const row = await trx
    .insertInto('credit_ledger')
    .values({
      user_id: entry.userId,
      credits: -entry.credits,
      kind: 'correction',
      payment_key: correctionKey(ledger, entry),
      ...(await correctionIds(trx, ledger, entry)),
      amount: null,
      currency: null,
      livemode: o.livemode ? 1 : 0,
      actor: o.actor,
      reason: o.reason,
      run_id: null,
      created_at: o.at,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const moves = [{ userId: entry.userId, credits: -entry.credits, ref: null }];
  if (adoption.ledger) await insertAppCredits(trx, adoption.ledger, moves, 'manual', new Date(o.at));
  if (adoption.balance) await moveBalances(trx, adoption.balance, moves);
  return Number(row.id);
}
