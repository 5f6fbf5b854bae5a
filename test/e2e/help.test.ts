import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseWhen } from '../../src/when.js';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';

/** What a newcomer meets first: --help, --version, and the flags each command really takes. */
describe('the CLI as a newcomer meets it', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const cli = (args: string[]) => runCli(args, { cwd: tmp.dir });

  it('--help shows examples and names the key variables', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples:\n\s+\$ export STRIPE_API_KEY_FILE=/);
    expect(r.stdout).toMatch(/STRIPE_API_KEY\s+the Stripe secret or restricted key/);
    expect(r.stdout).toMatch(/STRIPE_API_KEY_FILE\s+or a file that holds it/);
    expect(r.stdout).toMatch(/Exit codes:\n\s+0 /);
    const reconcile = await cli(['reconcile', '--help']);
    expect(reconcile.stdout).toMatch(/Examples:\n\s+\$ stripe-credits reconcile/);
    expect(reconcile.stdout).toMatch(/STRIPE_API_KEY_FILE/);
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('a command lists --actor only when it writes, --stripe-api-base only when it calls Stripe', async () => {
    const help = async (...cmd: string[]) => (await cli([...cmd, '--help'])).stdout;
    const traits = {
      reconcile: [true, true],
      assign: [true, true],
      baseline: [true, true],
      adjust: [false, true],
      lookup: [true, false],
      doctor: [true, false],
      balance: [false, false],
      runs: [false, false],
      migrate: [false, false],
      review: [false, false],
    } as const;
    for (const [cmd, [stripe, writes]] of Object.entries(traits)) {
      const text = await help(cmd);
      expect(text.includes('--stripe-api-base'), `${cmd} --stripe-api-base`).toBe(stripe);
      expect(text.includes('--actor'), `${cmd} --actor`).toBe(writes);
      expect(text, cmd).toMatch(/-q, --quiet\s+no spinner/);
    }
    expect(await help('review', 'dismiss')).toMatch(/--actor/);
    // A read-only command refuses the writer's flag as a usage error.
    const r = await cli(['balance', '1', '--actor', 'bob']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--actor'/);
  });

  it('digits alone are unix seconds; one before Stripe existed (7 for 7d) is refused, saying so', async () => {
    expect(parseWhen('1764547200', 2_000_000_000)).toBe(1_764_547_200);
    expect(parseWhen('1293840000', 2_000_000_000)).toBe(1_293_840_000);
    expect(() => parseWhen('1000000', 2_000_000_000)).toThrow(
      /1000000 is unix seconds for 1970-01-12T13:46:40.000Z, before Stripe existed/,
    );
    expect(() => parseWhen('1000000x', 2_000_000_000)).toThrow(/cannot read/);
    const r = await cli(['baseline', '--until', '7', '--db', join(tmp.dir, 'none.db')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^stripe-credits: --until: 7 is unix seconds for 1970-01-01T00:00:07\.000Z, before Stripe existed\n {2}hint: for a span back from now write its unit \(7d, 7h\)/,
    );
  });
});

/**
 * `stripe-credits --help` and `--version` start fast because main.ts reaches none of the heavy
 * modules through static imports: every command's implementation is imported when it runs. Counted,
 * not timed: the static import graph from src/cli/main.ts.
 */
describe('what the CLI loads before it knows the command', () => {
  const HEAVY = ['stripe', 'kysely', 'better-sqlite3', 'pg', 'cli-table3', 'ora'];
  const staticImports = (file: string): string[] =>
    [...readFileSync(file, 'utf8').matchAll(/^import (?!type )[^;]*?from '([^']+)';/gms)]
      .map((m) => m[1]!)
      .concat([...readFileSync(file, 'utf8').matchAll(/^export [^;]*? from '([^']+)';/gms)].map((m) => m[1]!));

  it('main.ts reaches none of the heavy modules statically', () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of staticImports(file)) {
        if (spec.startsWith('.')) visit(join(file, '..', spec.replace(/\.js$/, '.ts')));
        else if (!spec.startsWith('node:')) packages.add(spec);
      }
    };
    visit(join(ROOT, 'src', 'cli', 'main.ts'));
    expect(seen.size).toBeGreaterThan(3);
    expect([...packages].filter((p) => HEAVY.includes(p))).toEqual([]);
    expect([...packages]).toContain('commander');
  });
});
