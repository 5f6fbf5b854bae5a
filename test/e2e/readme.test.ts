import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, startServing, tempDir } from '../helpers/cli.js';

/**
 * Every command README shows works as printed: each line of its ```sh and ```cron blocks and of the
 * support commands' synopsis either runs here, against `demo --keep` (the bundled simulator and
 * data/demo.db, on SQLite), with README's placeholders swapped for the demo's, or is listed below
 * with the reason it cannot run here. A line README gains that the table neither runs nor explains
 * fails the test, as does an entry of the table README no longer has.
 */

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Line {
  block: string;
  /** The command as README prints it, without its comment or (synopsis) its description. */
  command: string;
}

/** The command lines of README's shell-like blocks: ```sh, ```cron, and the support synopsis (a bare ``` of `stripe-credits …` lines). */
function readmeLines(): Line[] {
  const lines: Line[] = [];
  for (const m of README.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    const [, lang, body] = m as unknown as [string, string, string];
    const synopsis = lang === '' && /^stripe-credits /m.test(body);
    if (lang !== 'sh' && lang !== 'cron' && !synopsis) continue;
    for (const raw of body.split('\n')) {
      const text = raw.trim();
      if (text === '' || text.startsWith('#')) continue;
      // A synopsis line is the command, two spaces or more, then what it does.
      const command = synopsis ? text.split(/\s{2,}/)[0]! : text.replace(/\s+#.*$/, '').replace(/\s+/g, ' ');
      lines.push({ block: synopsis ? 'synopsis' : lang, command });
    }
  }
  return lines;
}

/** What a README line becomes here: env it exports, a CLI run with its expected exit code, or a reason it does not run. */
type Entry =
  { exports: true } | { run: true; code: number; vars?: (d: Demo) => Record<string, string> } | { notHere: string };

interface Demo {
  /** Open review entries of the demo, oldest first. */
  review: string[];
  /** Refunds and disputes of the demo waiting in review. */
  reversals: string[];
}

/**
 * Exit codes as the demo's state implies them: the demo has credited what can be credited and
 * queued the rest, so the runs that follow find nothing new (0), and the support commands succeed.
 */
const TABLE: Record<string, Entry> = {
  'npm install && npm run demo': {
    notHere:
      'the test runs inside an installed checkout; `npm run demo` is `stripe-credits demo`, which demo.test.ts runs and this test starts with --keep',
  },
  'npm test': { notHere: 'the test suite itself' },
  'export STRIPE_API_KEY_FILE=/etc/stripe-credits/key': { exports: true },
  'export DATABASE_URL=postgres://credits@db.internal/app': { exports: true },
  'npx stripe-credits doctor --db data/app.db': { run: true, code: 0 },
  'npx stripe-credits reconcile --db data/app.db --since 7d --dry-run': { run: true, code: 0 },
  'npx stripe-credits reconcile --db data/app.db --since 7d': { run: true, code: 0 },
  '*/5 * * * * app cd /srv/app && . /etc/stripe-credits/env && npx stripe-credits reconcile --quiet >> /var/log/stripe-credits.log 2>&1':
    { run: true, code: 0 },
  'stripe-credits lookup QUERY': { run: true, code: 0, vars: (d) => ({ QUERY: d.review[0]! }) },
  'stripe-credits review': { run: true, code: 0 },
  'stripe-credits assign PAYMENT --user USER --reason TEXT [--credits N]': {
    run: true,
    code: 0,
    vars: (d) => ({ PAYMENT: d.review[0]! }),
  },
  'stripe-credits review dismiss PAYMENT --reason TEXT': {
    run: true,
    code: 0,
    vars: (d) => ({ PAYMENT: d.review[1]! }),
  },
  'stripe-credits review reverse re_…|dp_… --reason TEXT': {
    run: true,
    code: 0,
    vars: (d) => ({ 're_…|dp_…': d.reversals[0]! }),
  },
  'stripe-credits adjust --user USER --credits ±N --reason TEXT': { run: true, code: 0 },
  'stripe-credits balance USER': { run: true, code: 0 },
  'stripe-credits serve --port 8787 --behind-proxy': {
    notHere:
      'a server that runs until stopped; console-security.test.ts runs serve --behind-proxy and checks its cookies and trusted proxies',
  },
  // The demo plants an entry the old webhook wrote with no payment behind it, and a refund and a
  // dispute wait in review: audit has findings.
  'stripe-credits audit [--since WHEN]': { run: true, code: 3, vars: () => ({ WHEN: '30d' }) },
};

/** README's stand-ins for a real machine, and what they are on the demo (the key file, the db, a user of data/demo.db). */
function placeholders(dir: string, demoDb: string): Record<string, string> {
  return {
    '/etc/stripe-credits/key': join(dir, 'key'),
    'data/app.db': demoDb,
    'postgres://credits@db.internal/app': demoDb,
    USER: '1',
    TEXT: 'readme-test',
    N: '100',
    '±N': '-5',
  };
}

/** The CLI's arguments for a README command: `npx stripe-credits`/`stripe-credits` dropped, optional [parts] kept, placeholders swapped. */
function argv(command: string, vars: Record<string, string>): string[] {
  const cli = /(?:^|&& )(?:npx )?stripe-credits (.*?)(?: >>.*)?$/.exec(command);
  if (!cli) throw new Error(`no stripe-credits command in ${command}`);
  return cli[1]!
    .replace(/[[\]]/g, '')
    .split(' ')
    .map((w) => vars[w] ?? w);
}

describe('README', () => {
  const tmp = tempDir('sc-readme-');
  let demo: Awaited<ReturnType<typeof startServing>>;
  let vars: Record<string, string>;
  /** What README's `export` lines set, with its placeholders swapped: the environment its commands run in. */
  const exported: Record<string, string> = {};
  const state: Demo = { review: [], reversals: [] };

  beforeAll(async () => {
    demo = await startServing(['demo', '--keep'], tmp.dir);
    vars = placeholders(tmp.dir, join(tmp.dir, demo.env.DATABASE_URL!));
    writeFileSync(join(tmp.dir, 'key'), `${demo.env.STRIPE_API_KEY}\n`, { mode: 0o600 });
    const review = await runCli(['review', '--json', '--db', vars['data/app.db']!], { cwd: tmp.dir, env: demo.env });
    const queue = JSON.parse(review.stdout) as {
      entries: Array<{ paymentKey: string }>;
      reversals: Array<{ id: string }>;
    };
    state.review = queue.entries.map((e) => e.paymentKey);
    state.reversals = queue.reversals.map((r) => r.id);
    expect(state.reversals.length).toBeGreaterThanOrEqual(1);
    expect(state.review.length).toBeGreaterThanOrEqual(2);
  });
  afterAll(async () => {
    expect(await demo?.stop()).toBe(0);
    tmp.cleanup();
  });

  it('every command line is in the table, and every entry of the table is in README', () => {
    const commands = readmeLines().map((l) => l.command);
    expect(
      commands.filter((c) => !(c in TABLE)),
      'README lines neither run nor explained here',
    ).toEqual([]);
    expect(
      Object.keys(TABLE).filter((c) => !commands.includes(c)),
      'table entries README no longer has',
    ).toEqual([]);
  });

  it('each runnable line works against the demo, in README order', async () => {
    // The exports first: the cron line sources the env file README shows after it.
    for (const { command } of readmeLines()) {
      if (!TABLE[command] || !('exports' in TABLE[command])) continue;
      const [, name, value] = /^export (\w+)=(\S+)$/.exec(command)!;
      exported[name!] = vars[value!] ?? value!;
    }
    for (const { command } of readmeLines()) {
      const entry = TABLE[command];
      expect(entry, `README line not in the table: ${command}`).toBeDefined();
      if (!('run' in entry!)) continue;
      const args = argv(command, { ...vars, ...entry!.vars?.(state) });
      // The simulator stands in for api.stripe.com: its base URL is the one thing README does not set.
      const r = await runCli(args, { cwd: tmp.dir, env: { ...exported, STRIPE_API_BASE: demo.env.STRIPE_API_BASE } });
      const what = `${command}\n  ran: ${args.join(' ')}\n  stderr: ${r.stderr}`;
      expect(r.stderr, what).not.toMatch(/unknown option|unknown command|too many arguments|missing required|^Usage/im);
      expect(r.code, what).toBe(entry!.code);
    }
  });

  it('every docs/ page README links to exists', () => {
    const links = [...README.matchAll(/\]\((docs\/[^)#]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(5);
    expect(links.filter((l) => !existsSync(join(ROOT, l)))).toEqual([]);
  });
});
