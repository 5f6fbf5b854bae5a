import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';

/**
 * No database password reaches any output: malformed URLs (a password holding `#`, `/`, `?`, `@` or
 * a space), libpq keyword strings, `jdbc:` URLs, parameters named like a password, given with
 * --db or DATABASE_URL, with and without --json, and with --verbose (the stack trace included).
 * Every location points at a port where nothing listens, so no server is needed.
 */

const KEY = 'sk_test_dbSecretsE2eKey4f9k2';
const tmp = tempDir('sc-secrets-');
let sim: StripeSimulator;
beforeAll(async () => {
  sim = await startSimulator({ apiKeys: [KEY] });
});
afterAll(async () => {
  await sim.close();
  tmp.cleanup();
});

/** [the location, its password] */
const LOCATIONS: Array<[string, string]> = [
  ['postgres://app:Hx7Q#Lm2/Vr9?Tk4@127.0.0.1:1/app', 'Hx7Q#Lm2/Vr9?Tk4'],
  ['postgresql://app:Hx7Q@Lm2Vr9@127.0.0.1:1/app', 'Hx7Q@Lm2Vr9'],
  ['postgres://app:Hx7Q Lm2Vr9@127.0.0.1:1/app', 'Hx7Q Lm2Vr9'],
  ['postgres://app:Hx7Q:Lm2/Vr9@127.0.0.1:1/app?sslmode=prefer', 'Hx7Q:Lm2/Vr9'],
  ['postgres://127.0.0.1:1/app?user=app&sslpassword=Hx7QLm2Vr9&sslcert=/nonexistent', 'Hx7QLm2Vr9'],
  ['postgres://127.0.0.1:1/app?user=app&password=Hx7Q#Lm2Vr9&schema=public', 'Hx7Q#Lm2Vr9'],
  ['host=127.0.0.1 port=1 user=app password=Hx7QLm2Vr9 dbname=app', 'Hx7QLm2Vr9'],
  ["host=127.0.0.1 port=1 password='Hx7Q Lm2Vr9' dbname=app", 'Hx7Q Lm2Vr9'],
  ['jdbc:postgresql://127.0.0.1:1/app?user=app&password=Hx7QLm2Vr9', 'Hx7QLm2Vr9'],
  ['jdbc:postgresql://app:Hx7Q#Lm2Vr9@127.0.0.1:1/app', 'Hx7Q#Lm2Vr9'],
  ['mysql://root:Hx7Q#Lm2/Vr9@127.0.0.1:1/app', 'Hx7Q#Lm2/Vr9'],
];

/** Every 4-character piece of the password: a password printed in part is printed too. */
function pieces(password: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 4 <= password.length; i++) out.push(password.slice(i, i + 4));
  return out;
}

function expectNoSecret(r: CliResult, password: string, what: string): void {
  expect(r.code, `${what}: exit code; stderr: ${r.stderr}`).not.toBe(0);
  // doctor reports on stdout, every other command on stderr.
  expect(what.startsWith('doctor') ? r.stdout : r.stderr, `${what}: says what is wrong`).toMatch(
    /^stripe-credits: \S|"check": "database",\s*"level": "fail"/m,
  );
  for (const p of pieces(password)) {
    expect(r.stdout, `${what}: stdout holds '${p}'`).not.toContain(p);
    expect(r.stderr, `${what}: stderr holds '${p}'`).not.toContain(p);
  }
}

describe('a database location is never printed with its password', () => {
  LOCATIONS.forEach(([location, password], i) => {
    it(
      location,
      async () => {
        const runs: Array<[string, string[], Record<string, string>]> = [
          ['migrate --db --verbose', ['migrate', '--db', location, '--verbose'], {}],
          ['reconcile --json (DATABASE_URL)', ['reconcile', '--since', '1d', '--json'], { DATABASE_URL: location }],
        ];
        // doctor reports the database on stdout, through its own path: a few locations are enough.
        if (i % 4 === 0)
          runs.push([
            'doctor --json --verbose (DATABASE_URL)',
            ['doctor', '--json', '--verbose'],
            { DATABASE_URL: location },
          ]);
        const env = { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url };
        const results = await Promise.all(
          runs.map(([, args, more]) => runCli(args, { cwd: tmp.dir, env: { ...env, ...more }, timeoutMs: 120_000 })),
        );
        results.forEach((r, n) => expectNoSecret(r, password, runs[n]![0]));
        // The one-line error names the location, masked, or says the server cannot be reached.
        expect(results[0]!.stderr).toMatch(/\*\*\*|cannot reach the database server/);
      },
      240_000,
    );
  });
});
