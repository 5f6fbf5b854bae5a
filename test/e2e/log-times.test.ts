import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { createAppDb, runCli, tempDir, writeJson, now, DAY } from '../helpers/cli.js';

/**
 * stderr as a cron log keeps it: each log line says when (UTC, to the second); the one-line error
 * keeps its `stripe-credits: ` start, which people and scripts match on. SQLite: words, the same on
 * both engines.
 */
describe('log lines on stderr carry the time', () => {
  const KEY = 'sk_test_e2e_logtimes';
  const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /;
  let sim: StripeSimulator;
  const tmp = tempDir('sc-logtimes-');
  let db: string;
  const cli = (...args: string[]) =>
    runCli(
      [
        ...args,
        '--db',
        db,
        '--config',
        writeJson(join(tmp.dir, 'config.json'), { credits: { unitAmountPerCredit: { usd: 100 } } }),
      ],
      {
        cwd: tmp.dir,
        env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
      },
    );
  const lines = (text: string) => text.split('\n').filter((l) => l !== '');

  beforeAll(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    db = createAppDb(join(tmp.dir, 'app.db'), [{ id: 1, email: 'ann@example.com', name: 'Ann' }]);
  });
  afterAll(async () => {
    await sim.close();
    tmp.cleanup();
  });

  it('reconcile --verbose: every progress and request line starts with the time; without --verbose stderr stays empty', async () => {
    sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 500 });
    const quiet = await cli('reconcile', '--since', '2d', '--yes');
    expect(quiet.code, quiet.stdout + quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');

    const r = await cli('reconcile', '--since', '2d', '--verbose', '--yes');
    expect(r.code, r.stderr).toBe(0);
    const log = lines(r.stderr);
    expect(
      log.some((l) => / stripe: GET \/v1\/checkout\/sessions/.test(l)),
      r.stderr,
    ).toBe(true);
    expect(log.length).toBeGreaterThan(2);
    expect(
      log.filter((l) => !STAMP.test(l)),
      r.stderr,
    ).toEqual([]);
  });

  it('the error line keeps its form, with --verbose too', async () => {
    for (const extra of [[], ['--verbose']]) {
      const r = await cli('reconcile', '--since', 'yesterday-ish', ...extra);
      expect(r.code).toBe(2);
      expect(lines(r.stderr)[0]).toBe("stripe-credits: --since: cannot read 'yesterday-ish' as a time");
    }
  });
});
