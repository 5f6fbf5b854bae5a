import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BalanceConfig, LedgerMapping } from '../../src/config.js';
import { UsageError } from '../../src/errors.js';
import { auditEntryById, resolveAuditEntry } from '../../src/ledger/audit-resolve.js';
import {
  appSeconds,
  auditEntryBatches,
  auditLedger,
  resolvedAmong,
  samePaymentEntries,
  type AuditLedger,
  type AuditWindow,
} from '../../src/ledger/audit.js';
import { ledgerEntriesForPayment } from '../../src/ledger/corrections.js';
import { openDatabase, parseDbUrl, type OpenDb } from '../../src/ledger/db.js';
import { OWN_LEDGER_ONLY } from '../../src/ledger/ledger.js';
import type { AuditEntry } from '../../src/reconcile/types.js';
import { ROOT } from '../helpers/cli.js';
import { engines, type AppDb, type EngineName } from '../helpers/engines.js';
import { engineLedger } from '../helpers/ledger.js';

/** Unix seconds of an ISO time. */
const at = (iso: string) => Math.floor(Date.parse(iso) / 1000);
const WINDOW: AuditWindow = { since: at('2026-11-01T00:00:00Z'), until: at('2026-12-01T00:00:00Z') };

const PI_A = 'pi_3MtwBwLkdIwHu7ix28a3tqPa';
const CS_A = 'cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ01';
const PI_B = 'pi_3NxKq2Hb8RtY5ZaP0c4VwE1m';
const PI_C = 'pi_3OaLm9Qw2ErT6YuI1o0PzX8c';
const PI_D = 'pi_3PbNn7Sd4FgH8JkL2m1QaW9e';
const CS_E = 'cs_test_b7Kq9LmN2pQrS4tUvW6xYz8A1bC3dE5fG7hJ9kL';
const PI_OLD = 'pi_3LzYx1Wv2Ut3Sr4Qp5On6Ml7';

interface Planted {
  user: string;
  credits: number;
  kind?: string;
  key: string | null;
  cs?: string | null;
  pi?: string | null;
  time: string;
  reason?: string | null;
}

/** Rows of credit_ledger as reconcile (reason NULL) and assign (its --reason) write them. */
async function plant(app: AppDb, rows: Planted[]): Promise<void> {
  for (const r of rows) {
    await app.exec(
      `INSERT INTO credit_ledger (user_id, credits, kind, payment_key, checkout_session_id, payment_intent_id, amount, currency, livemode, actor, reason, run_id, created_at, matched_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'usd', 0, ?, ?, NULL, ?, ?)`,
      r.user,
      r.credits,
      r.kind ?? 'purchase',
      r.key,
      r.cs ?? null,
      r.pi ?? (r.key?.startsWith('pi_') ? r.key : null),
      r.credits * 10,
      r.reason ? 'alice' : 'reconcile',
      r.reason ?? null,
      r.time,
      r.reason ? null : 'client_reference_id',
    );
  }
}

async function ids(app: AppDb, key: string | null): Promise<number> {
  const rows = await app.query<{ id: number }>('SELECT id FROM credit_ledger WHERE payment_key = ?', key);
  return Number(rows[0]!.id);
}

async function readAll(open: OpenDb, ledger: AuditLedger, window = WINDOW, size = 1000): Promise<AuditEntry[][]> {
  const out: AuditEntry[][] = [];
  for await (const batch of auditEntryBatches(open.db, ledger, window, size)) out.push(batch);
  return out;
}

const MAPPING = (table: string, createdAt: string | null): LedgerMapping => ({
  schema: null,
  table,
  columns: { userId: 'user_id', credits: 'amount', paymentRef: 'stripe_id', createdAt },
  createdAtFormat: 'iso',
  set: { type: 'purchase' },
  setManual: { type: 'manual' },
  refKind: 'payment_intent',
});

const BALANCE: BalanceConfig = { schema: null, table: 'users', column: 'credits', key: 'id' };

/** The app's own table of credits: with an auto id primary key and a time, or with neither. */
async function appTable(app: AppDb, engine: EngineName, opts: { key: boolean; time: boolean }): Promise<void> {
  const id = opts.key ? `id ${engine === 'postgres' ? 'SERIAL' : 'INTEGER'} PRIMARY KEY, ` : '';
  const time = opts.time ? ', created_at TEXT' : '';
  await app.exec(
    `CREATE TABLE credit_transactions (${id}user_id TEXT, amount INTEGER, stripe_id TEXT, type TEXT${time})`,
  );
}

async function appRow(app: AppDb, user: string, credits: number, ref: string | null, time?: string): Promise<void> {
  if (time === undefined)
    await app.exec(
      `INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES (?, ?, ?, 'purchase')`,
      user,
      credits,
      ref,
    );
  else
    await app.exec(
      `INSERT INTO credit_transactions (user_id, amount, stripe_id, type, created_at) VALUES (?, ?, ?, 'purchase', ?)`,
      user,
      credits,
      ref,
      time,
    );
}

for (const engine of engines()) {
  describe(`audit: the ledger's entries (${engine})`, () => {
    const setup = engineLedger(engine);

    it("reads the tool's purchases in the window a batch at a time, bunched times included, and who wrote them", async () => {
      const { app, open } = await setup.start();
      await plant(app, [
        { user: '1', credits: 100, key: PI_A, cs: CS_A, time: '2026-11-05T10:00:00.000Z' },
        { user: '2', credits: 50, key: PI_B, time: '2026-11-05T10:00:00.000Z' },
        { user: '3', credits: 70, key: PI_C, time: '2026-11-05T10:00:00.000Z', reason: 'support ticket 4411' },
        { user: '1', credits: 20, key: PI_D, time: '2026-11-30T23:59:59.999Z' },
        { user: '1', credits: 30, key: PI_OLD, time: '2026-10-31T23:59:59.999Z' },
        { user: '2', credits: 40, key: CS_E, cs: CS_E, time: '2026-12-01T00:00:00.000Z' },
        { user: '2', credits: -5, kind: 'manual', key: null, time: '2026-11-06T00:00:00.000Z', reason: 'goodwill' },
      ]);
      const batches = await readAll(open, { kind: 'own' }, WINDOW, 2);
      expect(batches.map((b) => b.length)).toEqual([2, 2]);
      const entries = batches.flat();
      expect(entries.map((e) => e.paymentRef)).toEqual([PI_A, PI_B, PI_C, PI_D]);
      expect(entries[0]).toEqual({
        entryId: String(await ids(app, PI_A)),
        userId: '1',
        credits: 100,
        paymentRef: PI_A,
        byPerson: false,
        livemode: false,
        createdAt: at('2026-11-05T10:00:00Z'),
      });
      expect(entries.map((e) => e.byPerson)).toEqual([false, false, true, false]);
    });

    it("a purchase a person moved to another user is with that user, and checked as a person's entry", async () => {
      const { app, open } = await setup.start();
      await plant(app, [
        { user: '1', credits: 100, key: PI_A, time: '2026-11-05T10:00:00.000Z' },
        {
          user: '1',
          credits: -100,
          kind: 'reassign_out.1',
          key: PI_A,
          time: '2026-11-06T10:00:00.000Z',
          reason: 'wrong',
        },
        {
          user: '2',
          credits: 100,
          kind: 'reassign_in.1',
          key: PI_A,
          time: '2026-11-06T10:00:00.000Z',
          reason: 'wrong',
        },
        {
          user: '2',
          credits: -100,
          kind: 'reassign_out.2',
          key: PI_A,
          time: '2026-11-07T10:00:00.000Z',
          reason: 'again',
        },
        {
          user: '3',
          credits: 100,
          kind: 'reassign_in.2',
          key: PI_A,
          time: '2026-11-07T10:00:00.000Z',
          reason: 'again',
        },
      ]);
      const entries = (await readAll(open, { kind: 'own' })).flat();
      expect(entries.map((e) => [e.paymentRef, e.userId, e.byPerson])).toEqual([[PI_A, '3', true]]);
      await resolveAuditEntry(open.db, { kind: 'own' }, OWN_LEDGER_ONLY, {
        entryId: entries[0]!.entryId,
        actor: 'alice',
        reason: 'refunded outside Stripe',
        reverse: true,
      });
      expect(await app.query("SELECT user_id, credits FROM credit_ledger WHERE kind = 'correction'")).toEqual([
        { user_id: '3', credits: -100 },
      ]);
    });

    it('reads a mapped app table: its primary key names the entries, its time column picks the window', async () => {
      const { app, open } = await setup.start();
      await appTable(app, engine, { key: true, time: true });
      await appRow(app, '1', 100, CS_A, '2026-11-05T10:00:00Z');
      await appRow(app, '1', 100, PI_A, '2026-11-05 10:00:00');
      await appRow(app, '2', 50, PI_B, '2026-10-30T00:00:00Z');
      await appRow(app, '2', -10, null, '2026-11-07T00:00:00Z');
      await appRow(app, '3', 5, 'ch_3MtwBwLkdIwHu7ix0snN0B15', '2026-11-07T00:00:00Z');
      const ledger = await auditLedger(open.db, MAPPING('credit_transactions', 'created_at'));
      expect(ledger).toMatchObject({ kind: 'mapped', key: 'id' });
      const entries = (await readAll(open, ledger, WINDOW, 1)).flat();
      expect(entries).toEqual([
        {
          entryId: '1',
          userId: '1',
          credits: 100,
          paymentRef: CS_A,
          byPerson: false,
          livemode: null,
          createdAt: at('2026-11-05T10:00:00Z'),
        },
        {
          entryId: '2',
          userId: '1',
          credits: 100,
          paymentRef: PI_A,
          byPerson: false,
          livemode: null,
          createdAt: at('2026-11-05T10:00:00Z'),
        },
      ]);
    });

    it('a mapped entry the tool wrote: who wrote it, its mode, and where a reassignment moved it', async () => {
      const { app, open } = await setup.start();
      await appTable(app, engine, { key: true, time: true });
      await appRow(app, '1', 100, PI_A, '2026-11-05T10:00:00Z');
      await appRow(app, '2', 50, PI_B, '2026-11-05T10:00:00Z');
      await appRow(app, '3', 70, PI_C, '2026-11-05T10:00:00Z');
      await plant(app, [
        { user: '1', credits: 100, key: PI_A, time: '2026-11-05T10:00:00.000Z', reason: 'support ticket 4411' },
        { user: '2', credits: 50, key: PI_B, time: '2026-11-05T10:00:00.000Z' },
        { user: '2', credits: -50, kind: 'reassign_out.1', key: PI_B, time: '2026-11-06T10:00:00.000Z', reason: 'x' },
        { user: '3', credits: 50, kind: 'reassign_in.1', key: PI_B, time: '2026-11-06T10:00:00.000Z', reason: 'x' },
      ]);
      const ledger = await auditLedger(open.db, MAPPING('credit_transactions', 'created_at'));
      const entries = (await readAll(open, ledger)).flat();
      expect(entries.map((e) => [e.paymentRef, e.userId, e.byPerson, e.livemode])).toEqual([
        [PI_A, '1', true, false],
        [PI_B, '3', true, false],
        [PI_C, '3', false, null],
      ]);
    });

    it('reads a mapped table with no primary key and no time: every entry, named REF#N', async () => {
      const { app, open } = await setup.start();
      await appTable(app, engine, { key: false, time: false });
      await appRow(app, '2', 50, PI_B);
      await appRow(app, '1', 100, PI_A);
      await appRow(app, '1', 100, PI_A);
      await appRow(app, '3', 40, CS_E);
      const ledger = await auditLedger(open.db, MAPPING('credit_transactions', null));
      expect(ledger).toMatchObject({ kind: 'mapped', key: null });
      const entries = (await readAll(open, ledger, WINDOW, 2)).flat();
      expect(entries.map((e) => [e.entryId, e.userId, e.createdAt])).toEqual([
        [`${CS_E}#1`, '3', 0],
        [`${PI_A}#1`, '1', 0],
        [`${PI_A}#2`, '1', 0],
        [`${PI_B}#1`, '2', 0],
      ]);
      expect((await auditEntryById(open.db, ledger, `${PI_A}#2`))?.userId).toBe('1');
      expect(await auditEntryById(open.db, ledger, `${PI_A}#3`)).toBeUndefined();
    });

    it('samePayment: the entries naming a payment by its session id or its PaymentIntent id', async () => {
      const { app, open } = await setup.start();
      await plant(app, [
        { user: '1', credits: 100, key: CS_A, cs: CS_A, pi: null, time: '2026-11-05T10:00:00.000Z' },
        { user: '2', credits: 100, key: PI_A, cs: CS_A, time: '2026-11-05T10:00:01.000Z' },
        { user: '3', credits: 50, key: PI_B, time: '2026-11-05T10:00:02.000Z' },
      ]);
      const own = await samePaymentEntries(open.db, { kind: 'own' }, [
        { checkoutSession: CS_A, paymentIntent: PI_A },
        { checkoutSession: null, paymentIntent: PI_B },
        { checkoutSession: null, paymentIntent: PI_C },
      ]);
      expect(
        own
          .get(PI_A)!
          .map((e) => e.paymentRef)
          .sort(),
      ).toEqual([CS_A, PI_A].sort());
      expect(own.get(CS_A)).toBe(own.get(PI_A));
      expect(own.get(PI_B)).toEqual([
        { entryId: String(await ids(app, PI_B)), paymentRef: PI_B, createdAt: at('2026-11-05T10:00:02Z') },
      ]);
      expect(own.get(PI_C)).toEqual([]);

      await appTable(app, engine, { key: true, time: true });
      await appRow(app, '1', 100, CS_A, '2026-11-05T10:00:00Z');
      await appRow(app, '1', 100, PI_A, '2026-11-05T10:00:05Z');
      const mapped = await auditLedger(open.db, MAPPING('credit_transactions', 'created_at'));
      const same = await samePaymentEntries(open.db, mapped, [{ checkoutSession: CS_A, paymentIntent: PI_A }]);
      expect(
        same
          .get(CS_A)!
          .map((e) => e.entryId)
          .sort(),
      ).toEqual(['1', '2']);
      // An entry reversed by a person credits nothing any more: the other is the payment's only one.
      await resolveAuditEntry(
        open.db,
        mapped,
        { ledger: MAPPING('credit_transactions', 'created_at'), balance: null },
        {
          entryId: '2',
          actor: 'alice',
          reason: 'duplicate of 1',
          reverse: true,
        },
      );
      const after = await samePaymentEntries(open.db, mapped, [{ checkoutSession: CS_A, paymentIntent: PI_A }]);
      expect(after.get(PI_A)!.map((e) => e.entryId)).toEqual(['1']);
    });
  });

  describe(`audit resolve (${engine})`, () => {
    const setup = engineLedger(engine);

    it('accepts an entry as it is: kept with who and why, no entry written, not audited again, not twice', async () => {
      const { app, open } = await setup.start();
      await plant(app, [
        { user: '1', credits: 100, key: PI_A, time: '2026-11-05T10:00:00.000Z' },
        { user: '2', credits: 50, key: PI_B, time: '2026-11-05T10:00:00.000Z' },
      ]);
      const id = String(await ids(app, PI_A));
      const r = await resolveAuditEntry(open.db, { kind: 'own' }, OWN_LEDGER_ONLY, {
        entryId: id,
        actor: 'alice',
        reason: 'paid by bank transfer',
        reverse: false,
      });
      expect(r).toMatchObject({ outcome: 'accepted', correctionId: null, userId: '1', credits: 100, paymentRef: PI_A });
      expect(
        await app.query('SELECT ledger, entry_id, outcome, actor, reason FROM stripe_credits_audit_resolutions'),
      ).toEqual([
        { ledger: 'credit_ledger', entry_id: id, outcome: 'accepted', actor: 'alice', reason: 'paid by bank transfer' },
      ]);
      expect((await readAll(open, { kind: 'own' })).flat().map((e) => e.paymentRef)).toEqual([PI_B]);
      expect(await resolvedAmong(open.db, { kind: 'own' }, [id, String(await ids(app, PI_B))])).toEqual(new Set([id]));

      const again = resolveAuditEntry(open.db, { kind: 'own' }, OWN_LEDGER_ONLY, {
        entryId: id,
        actor: 'bob',
        reason: 'take it back',
        reverse: true,
      });
      await expect(again).rejects.toThrow(UsageError);
      await expect(again).rejects.toThrow(/resolved already \(accepted by alice/);
      expect(await app.query('SELECT count(*) AS n FROM credit_ledger')).toEqual([{ n: 2 }]);
      expect(await app.query('SELECT count(*) AS n FROM stripe_credits_audit_resolutions')).toEqual([{ n: 1 }]);
    });

    it('reverses an entry once: a correction takes its credits back, and the balance column moves with it', async () => {
      const { app, open } = await setup.start();
      await app.exec('ALTER TABLE users ADD COLUMN credits INTEGER NOT NULL DEFAULT 0');
      await app.exec('UPDATE users SET credits = 100 WHERE id = 3');
      await plant(app, [{ user: '3', credits: 100, key: PI_C, time: '2026-11-05T10:00:00.000Z' }]);
      const id = String(await ids(app, PI_C));
      const r = await resolveAuditEntry(
        open.db,
        { kind: 'own' },
        { ledger: null, balance: BALANCE },
        {
          entryId: id,
          actor: 'alice',
          reason: 'no such payment in Stripe',
          reverse: true,
        },
      );
      expect(r.outcome).toBe('reversed');
      const rows = await app.query<{
        id: number;
        credits: number;
        kind: string;
        payment_key: string;
        actor: string;
        reason: string;
      }>("SELECT id, credits, kind, payment_key, actor, reason, user_id FROM credit_ledger WHERE kind = 'correction'");
      expect(rows).toEqual([
        {
          id: r.correctionId,
          credits: -100,
          kind: 'correction',
          payment_key: PI_C,
          actor: 'alice',
          reason: 'no such payment in Stripe',
          user_id: '3',
        },
      ]);
      expect(await app.query('SELECT correction_id FROM stripe_credits_audit_resolutions')).toEqual([
        { correction_id: r.correctionId },
      ]);
      expect(await app.query('SELECT credits FROM users WHERE id = 3')).toEqual([{ credits: 0 }]);
      // Keyed by the purchase's payment key: lookup shows it with its payment.
      expect((await ledgerEntriesForPayment(open.db, [PI_C])).map((e) => [e.kind, e.credits])).toEqual([
        ['purchase', 100],
        ['correction', -100],
      ]);
      expect(await readAll(open, { kind: 'own' })).toEqual([]);
      await expect(
        resolveAuditEntry(
          open.db,
          { kind: 'own' },
          { ledger: null, balance: BALANCE },
          { entryId: id, actor: 'bob', reason: 'again', reverse: true },
        ),
      ).rejects.toThrow(/resolved already \(reversed by alice/);
      expect(await app.query('SELECT credits FROM users WHERE id = 3')).toEqual([{ credits: 0 }]);
    });

    it("reverses an entry of a mapped table: the app's row in its manual shape, the balance, the tool's correction", async () => {
      const { app, open } = await setup.start();
      await app.exec('ALTER TABLE users ADD COLUMN credits INTEGER NOT NULL DEFAULT 0');
      await app.exec('UPDATE users SET credits = 150 WHERE id = 2');
      await appTable(app, engine, { key: true, time: true });
      await appRow(app, '2', 150, PI_B, '2026-11-05T10:00:00Z');
      const mapping = MAPPING('credit_transactions', 'created_at');
      const ledger = await auditLedger(open.db, mapping);
      await resolveAuditEntry(
        open.db,
        ledger,
        { ledger: mapping, balance: BALANCE },
        {
          entryId: '1',
          actor: 'alice',
          reason: 'credited to the wrong user by name matching',
          reverse: true,
        },
      );
      expect(await app.query('SELECT user_id, amount, stripe_id, type FROM credit_transactions ORDER BY id')).toEqual([
        { user_id: '2', amount: 150, stripe_id: PI_B, type: 'purchase' },
        { user_id: '2', amount: -150, stripe_id: null, type: 'manual' },
      ]);
      expect(await app.query('SELECT credits FROM users WHERE id = 2')).toEqual([{ credits: 0 }]);
      expect(
        await app.query("SELECT user_id, credits, payment_key FROM credit_ledger WHERE kind = 'correction'"),
      ).toEqual([{ user_id: '2', credits: -150, payment_key: `${PI_B}#1` }]);
      // The app's new row has no payment reference: it is no purchase entry, and the reversed one is resolved.
      expect(await readAll(open, ledger)).toEqual([]);
    });

    it('refuses an entry that is no purchase entry, writing nothing', async () => {
      const { app, open } = await setup.start();
      await plant(app, [
        { user: '2', credits: -5, kind: 'manual', key: null, time: '2026-11-06T00:00:00.000Z', reason: 'goodwill' },
      ]);
      const manual = (await app.query<{ id: number }>('SELECT id FROM credit_ledger'))[0]!.id;
      for (const entryId of [String(manual), '999', 'pi_3MtwBwLkdIwHu7ix28a3tqPa', '1e3']) {
        await expect(
          resolveAuditEntry(open.db, { kind: 'own' }, OWN_LEDGER_ONLY, {
            entryId,
            actor: 'alice',
            reason: 'x',
            reverse: true,
          }),
        ).rejects.toThrow(/credit_ledger has no purchase entry/);
      }
      expect(await app.query('SELECT count(*) AS n FROM credit_ledger')).toEqual([{ n: 1 }]);
      expect(await app.query('SELECT count(*) AS n FROM stripe_credits_audit_resolutions')).toEqual([{ n: 0 }]);
    });

    it('two resolving one entry at once: one resolution, one correction', async () => {
      const { app } = await setup.start();
      await plant(app, [{ user: '1', credits: 100, key: PI_A, time: '2026-11-05T10:00:00.000Z' }]);
      const id = String(await ids(app, PI_A));
      const outcomes =
        engine === 'sqlite'
          ? await Promise.all([1, 2].map(() => resolveInProcess(app.url, id)))
          : await racingConnections(app, id);
      expect(outcomes.filter((o) => o === 'reversed')).toHaveLength(1);
      expect(outcomes.filter((o) => /resolved already/.test(o))).toHaveLength(1);
      expect(await app.query("SELECT count(*) AS n FROM credit_ledger WHERE kind = 'correction'")).toEqual([{ n: 1 }]);
      expect(await app.query('SELECT count(*) AS n FROM stripe_credits_audit_resolutions')).toEqual([{ n: 1 }]);
    });
  });
}

/** Postgres: two connections of their own, each resolving the same entry. */
async function racingConnections(app: AppDb, id: string): Promise<string[]> {
  const opens = await Promise.all([1, 2].map(() => openDatabase(parseDbUrl(app.url, ROOT), { readonly: false })));
  try {
    return await Promise.all(
      opens.map((o, i) =>
        resolveAuditEntry(o.db, { kind: 'own' }, OWN_LEDGER_ONLY, {
          entryId: id,
          actor: `p${i}`,
          reason: 'race',
          reverse: true,
        }).then(
          (r) => r.outcome as string,
          (e: Error) => e.message,
        ),
      ),
    );
  } finally {
    for (const o of opens) await o.close();
  }
}

/** SQLite: a process of its own (the built library), resolving the entry; prints the outcome or the error. */
function resolveInProcess(db: string, id: string): Promise<string> {
  const script = `
    const { openDatabase, parseDbUrl } = await import(${JSON.stringify(join(ROOT, 'dist/ledger/db.js'))});
    const { resolveAuditEntry } = await import(${JSON.stringify(join(ROOT, 'dist/ledger/audit-resolve.js'))});
    const open = await openDatabase(parseDbUrl(${JSON.stringify(db)}, '.'), { readonly: false });
    try {
      const r = await resolveAuditEntry(open.db, { kind: 'own' }, { ledger: null, balance: null },
        { entryId: ${JSON.stringify(id)}, actor: 'p' + process.pid, reason: 'race', reverse: true });
      process.stdout.write(r.outcome);
    } catch (e) { process.stdout.write(e.message); } finally { await open.close(); }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

describe('appSeconds: the time column of an app table', () => {
  it('reads timestamps, numbers and text as unix seconds', () => {
    const t = at('2026-11-05T10:00:00Z');
    expect(appSeconds(new Date(t * 1000), 'iso')).toBe(t);
    expect(appSeconds(t, 'unix')).toBe(t);
    expect(appSeconds(String(t * 1000), 'unix_ms')).toBe(t);
    expect(appSeconds(t * 1000, 'unix')).toBe(t);
    expect(appSeconds('2026-11-05 10:00:00', 'iso')).toBe(t);
    expect(appSeconds('2026-11-05T11:00:00+01:00', 'iso')).toBe(t);
    expect(appSeconds('yesterday', 'iso')).toBeNull();
    expect(appSeconds(null, 'iso')).toBeNull();
  });
});
