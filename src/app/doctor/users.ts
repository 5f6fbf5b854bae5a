import type { AppConfig, UsersConfig } from '../../config.js';
import { ConfigError } from '../../errors.js';
import { columnOf, indexesOn, qualifiedName, type ColumnInfo, type TableInfo } from '../../ledger/introspect.js';
import { customerLookup, emailLookup, verifyUsersTable } from '../../ledger/users.js';
import { missingTable, privilegeFinding, type Checkup } from './findings.js';

/** The users table as found, with the columns the config names. */
interface Users {
  u: UsersConfig;
  t: TableInfo;
  label: string;
  id: ColumnInfo;
  email: ColumnInfo;
}

/** The users table and its columns as the config names them, and whether the lookups have an index. */
export async function checkUsers(c: Checkup, config: AppConfig): Promise<void> {
  const u = config.users;
  const t = await usersTable(c, u);
  if (!t) return;
  // verifyUsersTable has made sure both columns exist.
  const users: Users = {
    u,
    t,
    label: qualifiedName(u.schema, u.table),
    id: columnOf(c.db, t, u.id)!,
    email: columnOf(c.db, t, u.email)!,
  };
  describeUsers(c, users);
  await privilegeFinding(c, t, ['SELECT'], 'users', 'the tool reads users');
  columnFindings(c, users);
  await emailLookupFinding(c, users, config.match.byEmail);
  if (u.stripeCustomerId) await customerLookupFinding(c, users, u.stripeCustomerId);
}

/** The users table, or null (a failed finding) when it or a column the config names is missing. */
async function usersTable(c: Checkup, u: UsersConfig): Promise<TableInfo | null> {
  try {
    await verifyUsersTable(c.db, u);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    c.f.fail('users', e.message, e.hint ?? null);
    return null;
  }
  const t = await c.ix.describeTable(c.db, u.schema, u.table);
  if (!t) {
    c.f.fail(
      'users',
      await missingTable(c, qualifiedName(u.schema, u.table)),
      'set users.table in the config file to the table that holds your users',
    );
  }
  return t;
}

function describeUsers(c: Checkup, { u, t, label, id, email }: Users): void {
  const idIndex = indexesOn(t, id.name)[0];
  const described = [
    `id "${id.name}" ${id.type || 'untyped'}${idIndex ? (idIndex.unique ? ', unique' : ', indexed') : ''}`,
    `email "${email.name}" ${email.type || 'untyped'}`,
    ...(u.name ? [`name "${u.name}"`] : []),
    ...(u.stripeCustomerId ? [`stripeCustomerId "${u.stripeCustomerId}"`] : []),
  ];
  c.f.ok('users', `${label}: ${described.join(', ')}`);
}

/** An id without an index, an email column that is not text. */
function columnFindings(c: Checkup, { u, t, label, id, email }: Users): void {
  if (!indexesOn(t, id.name)[0]) {
    c.f.warn(
      'users.id',
      `"${id.name}" has no index: every lookup by user id reads the whole ${label} table`,
      c.q.createIndex(true, u.schema, t.name, `${t.name}_${id.name}_key`, c.q.id(id.name)),
    );
  }
  if (email.kind !== 'text' && email.kind !== 'blob') {
    c.f.warn(
      'users.email',
      `"${email.name}" is ${email.type}, not a text column: emails are compared as text`,
      'set users.email to the column that holds the email address',
    );
  }
}

/** Whether the engine plans the lookup by email (as the matching makes it) through an index. */
async function emailLookupFinding(c: Checkup, { u, t, label, email }: Users, byEmail: boolean): Promise<void> {
  if (await c.ix.usesIndex(c.db, emailLookup(c.db, u))) {
    c.f.ok('users.email', `matching by email uses an index on lower(trim(${email.name}))`);
    return;
  }
  const plain = indexesOn(t, email.name)[0];
  const msg = `matching by email reads the whole ${label} table: no index on lower(trim(${email.name}))${plain ? ` (${plain.name} on ${email.name} itself cannot serve it)` : ''}`;
  const index = `${t.name}_${email.name}_lower_idx`;
  const fix = c.q.createIndex(false, u.schema, t.name, index, `lower(trim(${c.q.id(email.name)}))`);
  if (byEmail) c.f.warn('users.email', msg, fix);
  else
    c.f.ok(
      'users.email',
      `matching by email is off (match.byEmail); ${msg.replace(/^matching by email /, 'lookup by email ')}`,
    );
}

/** Whether the engine plans the lookup by Stripe customer through an index. */
async function customerLookupFinding(c: Checkup, { u, t, label }: Users, column: string): Promise<void> {
  const col = columnOf(c.db, t, column)!;
  if (await c.ix.usesIndex(c.db, customerLookup(c.db, u, col.name)))
    c.f.ok('users.stripeCustomerId', `matching by Stripe customer uses an index on ${col.name}`);
  else
    c.f.warn(
      'users.stripeCustomerId',
      `matching by Stripe customer reads the whole ${label} table: no index on ${col.name}`,
      c.q.createIndex(false, u.schema, t.name, `${t.name}_${col.name}_idx`, c.q.id(col.name)),
    );
}
