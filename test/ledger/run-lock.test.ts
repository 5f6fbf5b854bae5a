import { afterEach, describe, expect, it } from 'vitest';
import { migrateToLatest, openDatabase, parseDbUrl, type OpenDb } from '../../src/ledger/db.js';
import { acquireRunLock, LockLostError } from '../../src/ledger/lock.js';
import { tempDir } from '../helpers/cli.js';
import { createAppDb, engines, type AppDb } from '../helpers/engines.js';

/**
 * The run lock knows when it is no longer this run's, so that a run does not write a plan another
 * run may be writing: on Postgres when its session has ended (the advisory lock went with it), on
 * SQLite when another run took it over as stale.
 */
for (const engine of engines()) {
  describe(`the run lock, lost before writing (${engine})`, () => {
    let app: AppDb;
    const opened: OpenDb[] = [];
    let cleanup = () => {};
    afterEach(async () => {
      for (const o of opened.splice(0)) await o.close().catch(() => {});
      await app?.close();
      cleanup();
    });

    async function open(): Promise<OpenDb> {
      const o = await openDatabase(parseDbUrl(app.url, dir), { readonly: false });
      opened.push(o);
      return o;
    }
    let dir = '';
    async function setup() {
      const t = tempDir();
      cleanup = t.cleanup;
      dir = t.dir;
      app = await createAppDb(engine, t.dir, [{ id: 1, email: 'a@example.com', name: 'A' }]);
      const first = await open();
      await migrateToLatest(first.db);
      return first;
    }

    it('is held while nothing happens to it', async () => {
      const lock = await acquireRunLock(await setup(), 'test');
      await expect(lock.assertHeld()).resolves.toBeUndefined();
      await lock.release();
    });

    if (engine === 'postgres') {
      it('is lost when its session ends: exit 75, nothing written, and the next run takes it', async () => {
        const first = await setup();
        const lock = await acquireRunLock(first, 'test');
        // The server ends the lock's session (an admin, an idle timeout, a network cut).
        const ended = await app.query<{ ok: boolean }>(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND pid <> pg_backend_pid()`,
        );
        expect(ended.map((r) => r.ok)).toEqual([true]);
        const lost = lock.assertHeld();
        await expect(lost).rejects.toBeInstanceOf(LockLostError);
        await expect(lost).rejects.toMatchObject({
          exitCode: 75,
          message: expect.stringMatching(/session ended.*nothing was written/),
        });
        await lock.release();
        const next = await acquireRunLock(await open(), 'next');
        await expect(next.assertHeld()).resolves.toBeUndefined();
        await next.release();
      });
    } else {
      it('is lost when another run takes it over as stale, and says who has it', async () => {
        const first = await setup();
        const lock = await acquireRunLock(first, 'stalled run');
        // Another run that finds the lock's heartbeat too old (here: any age) takes it over.
        const other = await acquireRunLock(await open(), 'newer run', { staleAfterMs: 0, heartbeatMs: 60_000 });
        await expect(lock.assertHeld()).rejects.toMatchObject({
          exitCode: 75,
          message: expect.stringMatching(/taken over as stale: newer run/),
        });
        await expect(other.assertHeld()).resolves.toBeUndefined();
        await other.release();
        await lock.release();
      });
    }
  });
}
