import {
  duplicateValues,
  referenceCounts,
  unreadableReferences,
  type ColumnRef,
} from '../../ledger/introspect/contents.js';
import { qualifiedName, uniqueOn, type ColumnInfo, type IndexInfo } from '../../ledger/introspect.js';
import { plural, type Checkup } from './findings.js';
import type { Mapped } from './mapped.js';

/**
 * A unique index on the payment reference: the tool's own writers never credit a payment twice,
 * but only the index stops the app's webhook and the tool from both inserting it at once.
 */
export async function checkUniqueRef(c: Checkup, m: Mapped, ref: ColumnInfo): Promise<void> {
  const { L, t } = m;
  const kind = L.refKind === 'payment_intent' ? 'PaymentIntent ids (pi_…)' : 'Checkout Session ids (cs_…)';
  const race = `with refKind ${L.refKind}, the app's webhook must write ${kind} too for the index to catch a race`;
  const unique = uniqueRefIndex(m, ref);
  if (unique) {
    c.f.ok(
      'ledger.unique',
      `${unique.name} makes "${ref.name}" unique: the app's webhook and the tool cannot both credit a payment, a second insert fails (${race})`,
    );
    return;
  }
  const notes = nearMisses(m, ref);
  const dupes = await duplicateValues(c.db, { schema: L.schema, table: t.name, column: ref.name });
  const dupeNote =
    dupes.count > 0
      ? `; first resolve the ${plural(dupes.count, 'reference')} that appear${dupes.count === 1 ? 's' : ''} more than once (${dupes.examples.join(', ')}${dupes.count > 3 ? ', …' : ''}), or the index cannot be created`
      : '';
  c.f.warn(
    'ledger.unique',
    `no unique index on ${qualifiedName(L.schema, t.name)} (${ref.name})${notes.length ? ` (${notes.join('; ')})` : ''}: the tool's own writers never credit a payment twice, but the app's webhook and the tool crediting the same payment at the same moment could both insert it`,
    `${c.q.createIndex(true, L.schema, t.name, `${t.name}_${ref.name}_key`, c.q.id(ref.name))}; ${race}${dupeNote}`,
  );
}

/** A unique index on the reference alone, whole or partial on only `ref IS NOT NULL` (NULLs never collide anyway). */
function uniqueRefIndex({ t }: Mapped, ref: ColumnInfo): IndexInfo | undefined {
  const notNullOnly = (p: string) =>
    new RegExp(`^\\(*\\s*"?${ref.name}"?\\s+IS\\s+NOT\\s+NULL\\s*\\)*$`, 'i').test(p.trim());
  return (
    uniqueOn(t, ref.name) ??
    t.indexes.find(
      (i) =>
        i.unique &&
        i.columns.length === 1 &&
        i.columns[0] === ref.name &&
        i.predicate !== null &&
        notNullOnly(i.predicate),
    )
  );
}

/** Unique indexes that look as if they served but do not: partial on more, or over more columns. */
function nearMisses({ t }: Mapped, ref: ColumnInfo): string[] {
  const partial = t.indexes.find(
    (i) => i.unique && i.columns.length === 1 && i.columns[0] === ref.name && i.predicate !== null,
  );
  const wider = t.indexes.find((i) => i.unique && i.columns.length > 1 && i.columns.includes(ref.name));
  return [
    ...(partial ? [`${partial.name} is unique only WHERE ${partial.predicate}`] : []),
    ...(wider
      ? [
          `${wider.name} is unique on (${wider.columns.map((x) => x ?? 'expression').join(', ')}) together, which lets one ${ref.name} appear twice`,
        ]
      : []),
  ];
}

const SAMPLE = 10_000;

/** How a reference the tool cannot read looks. */
function referenceClass(v: string): string {
  if (v === '') return 'empty string';
  if (/^(ch|py)_/.test(v)) return 'charge id';
  if (/^evt_/.test(v)) return 'event id';
  if (/^in_/.test(v)) return 'invoice id';
  if (/(^|[^A-Za-z0-9])(pi_[A-Za-z0-9]+|cs_(test|live)_[A-Za-z0-9]+)/.test(v)) return 'prefixed or suffixed id';
  return 'other value';
}

/**
 * Counts the references the tool can read (a plain `pi_…` or `cs_test_…`/`cs_live_…` id) and
 * classifies the others, with examples. Returns the livemode of the Checkout Session ids it holds.
 */
export async function checkReferences(c: Checkup, m: Mapped, ref: ColumnInfo): Promise<boolean[]> {
  const { L, t } = m;
  const label = qualifiedName(L.schema, t.name);
  const at = { schema: L.schema, table: t.name, column: ref.name };
  const n = await referenceCounts(c.db, at);
  const cs = n.csTest + n.csLive;
  const modes = [...(n.csTest > 0 ? [false] : []), ...(n.csLive > 0 ? [true] : [])];
  if (n.refs === 0) {
    c.f.ok(
      'ledger.references',
      `${label} holds no payment references yet${n.rows ? ` (${n.rows} rows without one)` : ''}`,
    );
    return modes;
  }
  const unreadable = n.refs - n.readable - n.reversals;
  if (unreadable === 0) {
    c.f.ok(
      'ledger.references',
      `all ${n.refs} references are ids the tool reads (${n.pi} PaymentIntent, ${cs} Checkout Session${n.reversals > 0 ? `, ${n.reversals} refund or dispute: reversals, not payments` : ''})`,
    );
  } else {
    const classes = await classifyUnreadable(c, at);
    c.f.warn(
      'ledger.references',
      `${unreadable} of ${n.refs} references in ${label}.${ref.name} ${unreadable === 1 ? 'is' : 'are'} not a PaymentIntent or Checkout Session id the tool reads: ${classes}`,
      `these payments would look uncredited to the tool, which would credit them again: mark them handled with stripe-credits baseline --until WHEN (a time after the newest of them), or rewrite them to the plain pi_…/cs_… id (stripe:pi_123 → pi_123; a charge's PaymentIntent is its payment_intent)`,
    );
  }
  refKindFinding(c, m, label, n.pi, cs);
  return modes;
}

/** The unreadable references by class, most rows first, each with up to three examples. */
async function classifyUnreadable(c: Checkup, at: ColumnRef): Promise<string> {
  const sample = await unreadableReferences(c.db, at, SAMPLE);
  const classes = new Map<string, { rows: number; examples: string[] }>();
  for (const { ref: v, rows } of sample) {
    const cl = classes.get(referenceClass(v)) ?? { rows: 0, examples: [] };
    cl.rows += rows;
    if (cl.examples.length < 3) cl.examples.push(v === '' ? "''" : v);
    classes.set(referenceClass(v), cl);
  }
  const parts = [...classes]
    .sort((x, y) => y[1].rows - x[1].rows)
    .map(
      ([name, cl]) =>
        `${plural(cl.rows, name)} (${cl.examples.join(', ')}${cl.rows > cl.examples.length ? ', …' : ''})`,
    );
  const sampled = sample.length === SAMPLE ? ` (classified from the first ${SAMPLE} distinct values)` : '';
  return `${parts.join(', ')}${sampled}`;
}

/** The table holds only the other kind of id than refKind says the tool writes. */
function refKindFinding(c: Checkup, { L }: Mapped, label: string, pi: number, cs: number): void {
  if (L.refKind === 'payment_intent' && pi === 0 && cs > 0) {
    c.f.warn(
      'ledger.refKind',
      `${label} holds ${cs} Checkout Session ids and no PaymentIntent id, but refKind is payment_intent: the tool would write pi_… ids where the app writes cs_… ids`,
      'set ledger.refKind to "checkout_session", so that the app and the tool write the same id for a payment (a unique index can then catch a race)',
    );
  } else if (L.refKind === 'checkout_session' && cs === 0 && pi > 0) {
    c.f.warn(
      'ledger.refKind',
      `${label} holds ${pi} PaymentIntent ids and no Checkout Session id, but refKind is checkout_session: the tool would write cs_… ids where the app writes pi_… ids`,
      'set ledger.refKind to "payment_intent", so that the app and the tool write the same id for a payment (a unique index can then catch a race)',
    );
  }
}
