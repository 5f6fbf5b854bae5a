import type { KyselyPlugin } from 'kysely';
import { describe, expect, it } from 'vitest';
import { Planner } from '../../src/app/plan-writer.js';
import { DEFAULT_CONFIG } from '../../src/config.js';
import { loadUserDirectory, verifyUsersTable } from '../../src/ledger/users.js';
import { checkout } from '../reconcile/builders.js';
import { engines } from '../helpers/engines.js';
import { engineLedger } from '../helpers/ledger.js';

/**
 * The Planner looks a batch's users up inside a read transaction. On Postgres an integer users id
 * is compared in its own type (so that the primary key's index serves the lookup) only when the
 * lookup knows the column's type: the users table object (UsersTable) carries it, so a lookup in a
 * transaction, or through a handle nobody verified the table with, compares the same way.
 */
for (const engine of engines()) {
  describe(`users looked up inside a transaction (${engine})`, () => {
    const setup = engineLedger(engine);

    it('finds users by id, and on Postgres compares an integer id as an integer', async () => {
      const { open } = await setup.start({ migrate: false, readonly: true });
      // What the lookups' SQL is made of, as Kysely compiles it.
      const fragments: string[] = [];
      const spy: KyselyPlugin = {
        transformQuery: (a) => {
          fragments.push(JSON.stringify(a.node));
          return a.node;
        },
        transformResult: async (a) => a.result,
      };
      const db = open.db.withPlugin(spy);
      const table = await verifyUsersTable(db, DEFAULT_CONFIG.users);
      const payments = [
        checkout({ id: 'cs_a', clientReferenceId: '2' }, { id: 'pi_a' }),
        checkout({ id: 'cs_b', clientReferenceId: '042' }, { id: 'pi_b' }),
      ];
      const users = await db
        .transaction()
        .execute((trx) => loadUserDirectory(trx, table, DEFAULT_CONFIG.match, payments));
      expect(users.byId('2')).toEqual({ id: '2', email: '2@example.com' });
      expect(users.byId('042')).toBeUndefined();
      const typed = () => fragments.some((f) => f.includes('ANY(CAST(') && f.includes('AS bigint[]'));
      expect(typed()).toBe(engine === 'postgres');

      // The Planner does the same with each batch (the tool's tables not made yet: users only), also
      // through a handle the table was never verified with.
      fragments.length = 0;
      const planner = new Planner(
        open.db.withPlugin(spy),
        { ...DEFAULT_CONFIG, credits: { ...DEFAULT_CONFIG.credits, unitAmountPerCredit: { usd: 100 } } },
        false,
        true,
      );
      await planner.decide(payments);
      expect(planner.plan.decision(0)).toMatchObject({ paymentKey: 'pi_a', userId: '2' });
      // (On SQLite the lookup's text is the one compiled above, reused: nothing is compiled again.)
      expect(typed()).toBe(engine === 'postgres');
    });
  });
}
