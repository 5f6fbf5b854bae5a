import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { Command, CommanderError } from 'commander';
import { CliError } from '../errors.js';
import { databaseError, locationSecrets, maskDbUrl, redactSecrets } from '../app/redact.js';
import { DEMO_KEY } from '../app/demo-key.js';
import { registerSupportCommands } from './commands/support-commands.js';
import { registerConsoleCommands } from './commands/console-commands.js';
import type { CommandTraits, Registrar } from './context.js';
import type { Io } from './output.js';
import { termLines, termSafeStream, termText } from './term-text.js';

function defaultActor(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.LOGNAME ?? 'unknown';
  }
}

/** The options every command takes, and `--stripe-api-base` / `--actor` only where they mean something. */
function withCommonOptions(cmd: Command, traits: CommandTraits): Command {
  cmd
    .option(
      '--db <url>',
      "the app's database: a SQLite file path, sqlite:PATH, or postgres://USER:PASSWORD@HOST/DB (env DATABASE_URL; default data/credits.db)",
    )
    .option(
      '--config <file>',
      'JSON config file (env STRIPE_CREDITS_CONFIG; default stripe-credits.config.json if present)',
    );
  if (traits.stripe)
    cmd.option('--stripe-api-base <url>', 'Stripe API base URL (env STRIPE_API_BASE; default https://api.stripe.com)');
  cmd
    .option('--json', 'print exactly one JSON document on stdout')
    .option('-q, --quiet', 'no spinner; reconcile prints only its one-line summary')
    .option('--verbose', 'progress lines on stderr, and stack traces on errors');
  if (traits.writes)
    cmd.option('--actor <name>', 'who is doing this, recorded with every write (default: the OS user)');
  return cmd;
}

const ENVIRONMENT = `
Environment:
  STRIPE_API_KEY        the Stripe secret or restricted key (never on the command line)
  STRIPE_API_KEY_FILE   or a file that holds it
  DATABASE_URL          the app's database, as --db
  STRIPE_CREDITS_CONFIG the config file, as --config
  STRIPE_API_BASE       the Stripe API base, as --stripe-api-base
  NO_COLOR              no colour on a terminal`;

const EXAMPLES = `
Examples:
  $ export STRIPE_API_KEY_FILE=/etc/stripe-credits/key
  $ stripe-credits reconcile --db data/app.db --since 7d --dry-run
  $ stripe-credits reconcile --db data/app.db --since 7d
  $ stripe-credits lookup customer@example.com --db data/app.db
  $ stripe-credits demo                      the whole flow on a bundled simulator, no account needed`;

const READS = { stripe: false, writes: false };
const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const EXIT_CODES = `
Exit codes:
  0   done; nothing needs a person
  1   failed (Stripe unreachable after retries, database error); a rerun is safe
  2   usage or configuration error (bad flag, missing or rejected API key, bad config, missing table/column)
  3   done, but a person should look (new payments in review, a dry run found credits to write,
      a safety cap stopped the run, assign found the payment already credited)
  75  another run holds the lock; try again later
  130 (SIGINT), 143 (SIGTERM): stopped cleanly by the signal; a rerun continues`;

function buildProgram(io: Io, setResult: (code: number) => void): Command {
  const program = new Command();
  program
    .name('stripe-credits')
    .description(
      'Make sure every successful Stripe payment for prepaid credits is credited to the right user, exactly once.',
    )
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError(false)
    .addHelpText('after', `${EXAMPLES}\n${ENVIRONMENT}\n${EXIT_CODES}`)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: () => {}, // errors are printed once, by main()
    })
    .exitOverride();

  const ctx = { io, env: io.env, cwd: io.cwd ?? process.cwd(), defaultActor: defaultActor(io.env) };
  const r: Registrar = { program, ctx, setResult, common: withCommonOptions };
  // Every command's implementation is loaded when it runs: --help and a command load only what they use.
  registerReconcile(r);
  registerRunCommands(r);
  registerDemoCommands(r);
  registerSupportCommands(r);
  registerConsoleCommands(r);
  return program;
}

function registerReconcile({ program, ctx, setResult }: Registrar): void {
  withCommonOptions(
    program
      .command('reconcile')
      .description('credit every successful payment in the window that the ledger does not have yet')
      .option('--dry-run', 'show what would be written; write nothing (the database file is not touched)')
      .option(
        '--since <when>',
        'start of the window: ISO date/time (UTC unless zoned), unix seconds, or a span like 36h, 7d',
      )
      .option('--until <when>', 'end of the window, exclusive (default: now)')
      .option('--yes', 'go ahead past the safety stops (first run on an empty ledger, maxCreditsPerRun)')
      .option(
        '--max-rps <n>',
        "requests per second to Stripe, all endpoints together (default: just below Stripe's limit for the key's mode)",
      ),
    { stripe: true, writes: true },
  )
    .addHelpText(
      'after',
      `
Examples:
  $ stripe-credits reconcile --db data/app.db --since 2026-11-20 --dry-run   what it would write
  $ stripe-credits reconcile --db data/app.db --since 36h                    an incident's window
  $ stripe-credits reconcile --quiet                                         cron: from the last run on
${ENVIRONMENT}
${EXIT_CODES}`,
    )
    .action(async (flags) => setResult(await (await import('./commands/reconcile.js')).reconcileCommand(ctx, flags)));
}

/** The commands around the runs: the tables (migrate), the runs' history, the baseline, the checks. */
function registerRunCommands({ program, ctx, setResult }: Registrar): void {
  withCommonOptions(
    program.command('migrate').description("create or upgrade the tool's tables in the database"),
    READS,
  ).action(async (flags) => setResult(await (await import('./commands/migrate.js')).migrateCommand(ctx, flags)));

  withCommonOptions(program.command('runs').description('recent runs: window, counts, outcome, duration'), READS)
    .option('--limit <n>', 'how many runs to show (default 20)')
    .action(async (flags) => setResult(await (await import('./commands/runs.js')).runsCommand(ctx, flags)));

  withCommonOptions(
    program
      .command('baseline')
      .description('mark every successful payment up to WHEN as already handled, without crediting'),
    { stripe: true, writes: true },
  )
    .option('--until <when>', 'the line: payments paid before it count as handled (required)')
    .option('--dry-run', 'count what would be recorded; write nothing')
    .action(async (flags) => setResult(await (await import('./commands/baseline.js')).baselineCommand(ctx, flags)));

  withCommonOptions(
    program
      .command('doctor')
      .description('check config, database and key against each other; say exactly what to fix (reads only)'),
    { stripe: true, writes: false },
  )
    .addHelpText(
      'after',
      '\nExit codes: 0 everything needed is in place (warnings allowed), 2 something needed is missing or wrong, 1 a check could not be made.',
    )
    .action(async (flags) => setResult(await (await import('./commands/doctor.js')).doctorCommand(ctx, flags)));
}

function registerDemoCommands({ program, ctx, setResult }: Registrar): void {
  program
    .command('demo')
    .description(
      'the whole flow on a bundled local Stripe simulator and a fresh data/demo.db; no Stripe account needed',
    )
    .option('--json', 'print the apply run as JSON')
    .option('--keep', 'leave the simulator running afterwards, and print how to point the other commands at it')
    .option('--serve', 'then run the support console on the demo data, with a demo account printed here')
    .option('--verbose', 'stack traces on errors')
    .action(async (flags) => setResult(await (await import('./commands/demo.js')).demoCommand(ctx, flags)));

  program
    .command('simulator')
    .description(
      "run the project's local Stripe simulator with the demo's payments (or --data FILE of the same shape) until Ctrl-C",
    )
    .option('--data <file>', 'Stripe objects in the shape of data/demo-payments.json (default: that file)')
    .option('--port <n>', 'port on 127.0.0.1 (default: any free one)')
    .option('--verbose', 'stack traces on errors')
    .addHelpText('after', `\nIt accepts the key ${DEMO_KEY} and prints the STRIPE_API_BASE to use.`)
    .action(async (flags) => setResult(await (await import('./commands/demo.js')).simulatorCommand(ctx, flags)));
}

function wantsJson(argv: readonly string[]): boolean {
  return argv.includes('--json');
}

function wantsVerbose(argv: readonly string[]): boolean {
  return argv.includes('--verbose');
}

/** Prints an error the one way SPEC wants: one line on stderr (plus a hint), JSON on stdout with --json. */
async function reportError(io: Io, raw: unknown, argv: readonly string[]): Promise<number> {
  // A database error met mid-command (a lost connection, a missing privilege) becomes one line too.
  const e = raw instanceof CliError || raw instanceof CommanderError ? raw : ((await databaseError(raw)) ?? raw);
  let code = 1;
  let message: string;
  let hint: string | undefined;
  if (e instanceof CliError) {
    code = e.exitCode;
    message = e.message;
    hint = e.hint;
  } else if (e instanceof CommanderError) {
    code = 2;
    message = e.message.replace(/^error: /, '');
    hint = 'see stripe-credits --help';
  } else {
    message = `unexpected error: ${e instanceof Error ? e.message : String(e)}`;
    hint = wantsVerbose(argv) ? undefined : 'rerun with --verbose for the stack trace';
  }
  // The last guard against a printed password: whatever the message came from (a driver's error, a
  // stack trace), the database location's password is masked by pattern and by its literal text.
  const secrets = [...locationSecrets(dbArgument(argv)), ...locationSecrets(io.env.DATABASE_URL)];
  const clean = (s: string) => redactSecrets(maskDbUrl(s), secrets);
  message = clean(message);
  // A message may quote what the user or Stripe gave (an id, a name): shown escaped, on one line.
  io.stderr.write(`stripe-credits: ${termText(message)}\n`);
  if (hint) io.stderr.write(`  hint: ${termText(redactSecrets(hint, secrets))}\n`);
  if (wantsVerbose(argv) && e instanceof Error && e.stack) io.stderr.write(`${termLines(clean(e.stack))}\n`);
  if (wantsJson(argv)) io.stdout.write(`${JSON.stringify({ error: { exitCode: code, message } })}\n`);
  return code;
}

/** The value of `--db` on the command line, if any. */
function dbArgument(argv: readonly string[]): string | undefined {
  for (let i = argv.length - 1; i >= 0; i--) {
    if (argv[i] === '--db') return argv[i + 1];
    if (argv[i]!.startsWith('--db=')) return argv[i]!.slice('--db='.length);
  }
  return undefined;
}

/** The entry point: runs the command and returns the process exit code. The only place that maps errors to codes. */
export async function main(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env, stdin: process.stdin },
): Promise<number> {
  let result = 0;
  // Human-readable output escapes control characters on its way out; --json output is JSON as it is.
  const out: Io = wantsJson(argv) ? io : { ...io, stdout: termSafeStream(io.stdout) };
  const program = buildProgram(out, (c) => (result = c));
  try {
    await program.parseAsync(argv);
    return result;
  } catch (e) {
    if (
      e instanceof CommanderError &&
      (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
    ) {
      return 0;
    }
    if (e instanceof CommanderError && e.code === 'commander.executeSubCommandAsync') return 0;
    return reportError(io, e, argv);
  }
}
