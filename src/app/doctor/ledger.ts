import type { AppConfig, LedgerMapping, SqlConstant } from '../../config.js';
import { mappingConflicts } from '../../ledger/app-ledger.js';
import { columnOf, qualifiedName, type TableInfo } from '../../ledger/introspect.js';
import { missingTable, privilegeFinding, type Checkup } from './findings.js';
import { checkLedgerColumns } from './ledger-columns.js';
import { checkReferences, checkUniqueRef } from './ledger-refs.js';
import { checkLedgerTypes } from './ledger-types.js';
import type { Mapped } from './mapped.js';

/**
 * Checks the app's table the ledger is mapped onto: its privileges, columns, types, unique index
 * and the references it holds. Returns the livemode of the Checkout Session ids it holds.
 */
export async function checkMappedLedger(c: Checkup, config: AppConfig, L: LedgerMapping): Promise<boolean[]> {
  const t = await ledgerTable(c, config, L);
  if (!t) return [];
  const m = mappedOnto(L, t);
  c.f.ok(
    'ledger',
    `mapped onto ${m.label}: a payment counts as credited when ${L.columns.paymentRef} holds its PaymentIntent or Checkout Session id; the tool writes ${m.refWord} ids (refKind ${L.refKind})`,
  );
  if (t.isView)
    c.f.warn(
      'ledger',
      `${m.label} is a view: the tool's inserts work only if it is updatable`,
      "map the ledger onto the app's table itself",
    );
  const why = 'the tool reads the ledger and inserts the credits it writes';
  await privilegeFinding(c, t, ['SELECT', 'INSERT'], 'ledger', why);
  await sequenceFinding(c, m);
  checkLedgerColumns(c, m);
  await checkLedgerTypes(c, m, config.maxCreditsPerPayment);
  const ref = columnOf(c.db, t, L.columns.paymentRef);
  if (!ref) return [];
  await checkUniqueRef(c, m, ref);
  return checkReferences(c, m, ref);
}

/** The mapped table, or null (a failed finding) when it is missing or is also the users' or the balance's table. */
async function ledgerTable(c: Checkup, config: AppConfig, L: LedgerMapping): Promise<TableInfo | null> {
  const label = qualifiedName(L.schema, L.table);
  const t = await c.ix.describeTable(c.db, L.schema, L.table);
  if (!t) {
    c.f.fail(
      'ledger',
      `the ledger is mapped onto ${label}, but ${await missingTable(c, label)}`,
      "set ledger.table to the app's table that holds its credits, and check --db",
    );
    return null;
  }
  const onUsers = (await mappingConflicts(c.db, config)).find((x) => x.key === 'ledger');
  if (onUsers) {
    c.f.fail('ledger', onUsers.message, onUsers.hint);
    return null;
  }
  return t;
}

function mappedOnto(L: LedgerMapping, t: TableInfo): Mapped {
  const sameManual = JSON.stringify(L.set) === JSON.stringify(L.setManual);
  return {
    L,
    t,
    label: qualifiedName(L.schema, L.table),
    refWord: L.refKind === 'payment_intent' ? 'PaymentIntent' : 'Checkout Session',
    mapped: [
      ['ledger.columns.userId', L.columns.userId],
      ['ledger.columns.credits', L.columns.credits],
      ['ledger.columns.paymentRef', L.columns.paymentRef],
      ...(L.columns.createdAt ? [['ledger.columns.createdAt', L.columns.createdAt] as [string, string]] : []),
    ],
    constants: [
      ['ledger.set', L.set],
      ...(sameManual ? [] : [['ledger.setManual', L.setManual] as [string, Record<string, SqlConstant>]]),
    ],
    sameManual,
  };
}

/**
 * An insert that leaves a serial column to its default (`nextval('…_seq')`) needs USAGE on that
 * sequence as well as INSERT on the table, or fails with "permission denied for sequence" (an
 * identity column's sequence needs no privilege). Checks every such column the tool's inserts
 * leave to its default.
 */
async function sequenceFinding(c: Checkup, { L, t }: Mapped): Promise<void> {
  const written = (name: string) =>
    [L.columns.userId, L.columns.credits, L.columns.paymentRef, L.columns.createdAt].includes(name) ||
    (Object.hasOwn(L.set, name) && Object.hasOwn(L.setManual, name));
  for (const col of t.columns) {
    if (!col.sequence || written(col.name)) continue;
    const lack = await c.ix.lacksOnSequence(c.db, col.sequence);
    if (!lack) continue;
    const seq = col.sequence;
    c.f.fail(
      'ledger',
      `the database user ${lack.user} lacks USAGE on the sequence ${seq.schema}.${seq.name} that numbers "${col.name}" of ${qualifiedName(t.schema, t.name)}: every insert the tool makes would fail (permission denied for sequence ${seq.name})`,
      `GRANT USAGE ON SEQUENCE ${c.q.table(seq.schema, seq.name)} TO ${c.q.id(lack.user)}`,
    );
  }
}
