import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { query, runCli, tempDir } from '../helpers/cli.js';

describe('stripe-credits demo', () => {
  const tmp = tempDir('sc-demo-');
  afterAll(() => tmp.cleanup());

  it('runs dry run, real run and rerun on the bundled simulator and exits 0', async () => {
    const r = await runCli(['demo'], { cwd: tmp.dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/== 1\. Dry run[\s\S]*Dry run: nothing was written\./);
    expect(r.stdout).toMatch(/== 2\. Real run[\s\S]*6 credited \(2498 credits\)/);
    expect(r.stdout).toMatch(/== 3\.[^\n]*\n15 payments: 0 credited \(0 credits\), 6 already credited/);
    expect(r.stdout).toMatch(/5 payments need a person/);
    expect(r.stdout).toMatch(/user 1 +alice@example.com +500 credits/);
    // Never matched by name, never created a user.
    const db = join(tmp.dir, 'data', 'demo.db');
    expect(query(db, 'SELECT count(*) AS n FROM users')).toEqual([{ n: 7 }]);
    expect(query(db, "SELECT user_id, sum(credits) AS c FROM credit_ledger GROUP BY user_id ORDER BY user_id")).toEqual([
      { user_id: '1', c: 500 },
      { user_id: '2', c: 200 },
      { user_id: '3', c: 1399 },
      { user_id: '7', c: 399 },
    ]);
  });

  it('starts over on a second demo run', async () => {
    const r = await runCli(['demo', '--json'], { cwd: tmp.dir });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.counts).toMatchObject({ payments: 15, credited: 6, needsReview: 5, pending: 1, skipped: 3 });
  });
});
