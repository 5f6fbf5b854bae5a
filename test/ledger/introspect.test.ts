import { describe, expect, it } from 'vitest';
import { columnOf, indexesOn, introspectionFor, uniqueOn } from '../../src/ledger/introspect.js';
import { engines } from '../helpers/engines.js';
import { engineLedger } from '../helpers/ledger.js';

/**
 * The Introspection interface doctor asks through: both engines describe the same table alike, and
 * differ only where the engines do (name case, quoting, what a wrong-typed value does).
 */
const TABLE = `CREATE TABLE "CreditTx" (
  id INTEGER PRIMARY KEY,
  "userId" INTEGER NOT NULL,
  credits INTEGER NOT NULL,
  stripe_ref TEXT,
  "order" TEXT NOT NULL DEFAULT 'purchase'
)`;

for (const engine of engines()) {
  describe(`introspection (${engine})`, () => {
    const ledger = engineLedger(engine);

    async function setup() {
      const { app, open } = await ledger.start({ migrate: false });
      await app.exec(TABLE);
      await app.exec(`CREATE UNIQUE INDEX "CreditTx_stripe_ref_key" ON "CreditTx" (stripe_ref)`);
      await app.exec(`CREATE INDEX credit_tx_user ON "CreditTx" ("userId", credits)`);
      return { app, db: open.db, ix: introspectionFor(open.db) };
    }

    it('describes columns and indexes alike on both engines', async () => {
      const { db, ix } = await setup();
      expect(ix.name).toBe(engine === 'sqlite' ? 'SQLite' : 'Postgres');
      const t = (await ix.describeTable(db, null, 'CreditTx'))!;
      expect(t.columns.map((c) => [c.name, c.kind, c.notNull, c.hasDefault])).toEqual([
        ['id', 'integer', true, false],
        ['userId', 'integer', true, false],
        ['credits', 'integer', true, false],
        ['stripe_ref', 'text', false, false],
        ['order', 'text', true, true],
      ]);
      expect(uniqueOn(t, 'stripe_ref')?.name).toBe('CreditTx_stripe_ref_key');
      expect(indexesOn(t, 'userId').map((i) => [i.name, i.unique, i.columns])).toEqual([
        ['credit_tx_user', false, ['userId', 'credits']],
      ]);
      expect(await ix.describeTable(db, null, 'NoSuchTable')).toBeNull();
      expect(await ix.listTables(db)).toEqual(expect.arrayContaining(['CreditTx', 'users']));
      // A name in another case: the same column on SQLite, none on Postgres (names are stored as written).
      expect(columnOf(db, t, 'USERID')?.name).toBe(engine === 'sqlite' ? 'userId' : undefined);
      expect(await ix.lacksOnTable(db, t, ['SELECT', 'INSERT'])).toBeNull();
    });

    it('writes the SQL doctor suggests so that it runs as given', async () => {
      const { app, db, ix } = await setup();
      const q = await ix.quoter(db);
      expect(q.id('order')).toBe('"order"');
      expect(q.id('credits')).toBe('credits');
      // SQLite reads CreditTx as written without quotes; Postgres would fold it to credittx.
      expect(q.id('CreditTx')).toBe(engine === 'sqlite' ? 'CreditTx' : '"CreditTx"');
      const create = q.createIndex(false, null, 'CreditTx', 'CreditTx_order_idx', q.id('order'));
      await app.exec(create);
      const t = (await ix.describeTable(db, null, 'CreditTx'))!;
      expect(indexesOn(t, 'order').map((i) => i.name)).toEqual(['CreditTx_order_idx']);
    });

    it('tries a constant as the engine would store it: Postgres refuses text in an integer, SQLite keeps it', async () => {
      const { db, ix } = await setup();
      const t = (await ix.describeTable(db, null, 'CreditTx'))!;
      const probe = ix.constantProbe(db, t);
      try {
        const stored = await probe.store(columnOf(db, t, 'credits')!, 'ten');
        if (ix.typesEnforced) expect(stored).toEqual({ error: expect.stringMatching(/invalid input syntax/) });
        else expect(stored).toEqual({ type: 'text', text: 'ten' });
        expect(await probe.store(columnOf(db, t, 'credits')!, 10)).toEqual(
          ix.typesEnforced ? null : { type: 'integer', text: '10' },
        );
      } finally {
        probe.close();
      }
    });
  });
}
