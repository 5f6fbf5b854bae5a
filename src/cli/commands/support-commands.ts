import type { Command } from 'commander';
import type { CommonFlags, Registrar } from '../context.js';
import type { AdjustFlags } from './adjust.js';
import type { AssignFlags } from './assign.js';

/**
 * The support commands' definitions: their arguments, options and help. Each implementation is
 * loaded only when its command runs, so that `--help` and the other commands start without it.
 */
export function registerSupportCommands(r: Registrar): void {
  registerReview(r);
  registerAssign(r);
  registerUserCommands(r);
  registerAudit(r);
}

/** `review` lists the queue; `review dismiss` closes one entry; `review reverse` takes a refund's or dispute's credits back. */
function registerReview({ program, ctx, setResult, common }: Registrar): void {
  const review = common(
    program
      .command('review')
      .description(
        "open payments, and refunds and disputes of credited payments, that need a person, oldest first; `review dismiss ID --reason TEXT` closes one, `review reverse ID --reason TEXT` takes a refund's or dispute's credits back",
      ),
    { stripe: false, writes: false },
  ).action(async (flags: CommonFlags) => setResult(await (await import('./review.js')).reviewList(ctx, flags)));
  common(
    review
      .command('dismiss <id>')
      .description(
        'close a review entry without acting on it (kept, with who and why): a payment (cs_…, pi_…) is not credited; a refund or dispute (re_…, dp_…) is not reversed, by this or any later run',
      ),
    { stripe: false, writes: true },
  )
    .requiredOption('--reason <text>', 'why it needs no credit or reversal (required; recorded)')
    .action(async (payment: string, _flags: unknown, cmd: Command) =>
      setResult(await (await import('./review.js')).reviewDismiss(ctx, payment, cmd.optsWithGlobals())),
    );
  common(
    review
      .command('reverse <id>')
      .description(
        'take back the credits of a refund or dispute (re_…, dp_…) waiting in review: a reversal entry for the user, with who and why; the entry is closed',
      ),
    { stripe: false, writes: true },
  )
    .requiredOption('--reason <text>', 'why the credits are taken back (required; recorded with the entry)')
    .addHelpText(
      'after',
      `
Exit codes: 0 reversed; 2 bad input or not in the review queue; 3 reversed or dismissed already (nothing written).`,
    )
    .action(async (id: string, _flags: unknown, cmd: Command) =>
      setResult(await (await import('./review.js')).reviewReverse(ctx, id, cmd.optsWithGlobals())),
    );
}

function registerAssign({ program, ctx, setResult, common }: Registrar): void {
  common(
    program
      .command('assign <payment>')
      .description('credit a payment (cs_… or pi_…) the chain could not match, to the user a person names')
      .requiredOption('--user <user>', 'the user to credit: a user id or an email')
      .requiredOption('--reason <text>', 'why (required; recorded with the entry)')
      .option('--credits <n>', 'credits to write instead of what the rules give')
      .option(
        '--reassign',
        'move an already credited payment to --user: a reversal for the user who has it and a credit for --user; every entry kept',
      ),
    { stripe: true, writes: true },
  )
    .addHelpText(
      'after',
      `
Exit codes: 0 credited (or moved); 2 bad input, unknown or ambiguous user, or not a payment that can be
credited (pending, refunded, subscription, not a payment); 3 already credited (nothing written; the user
it went to is named; correct it with --reassign).`,
    )
    .action(async (payment: string, flags: AssignFlags) =>
      setResult(await (await import('./assign.js')).assignCommand(ctx, payment, flags)),
    );
}

/** A user's credits and payments: `adjust` writes one entry; `balance` and `lookup` only read. */
function registerUserCommands({ program, ctx, setResult, common }: Registrar): void {
  common(
    program
      .command('adjust')
      .description("write a manual credit adjustment to a user's balance")
      .requiredOption('--user <user>', 'a user id or an email')
      .requiredOption('--credits <n>', 'credits to add (50 or +50) or take away (-20); not 0')
      .requiredOption('--reason <text>', 'why (required; recorded with the entry)'),
    { stripe: false, writes: true },
  ).action(async (flags: AdjustFlags) => setResult(await (await import('./adjust.js')).adjustCommand(ctx, flags)));

  common(
    program
      .command('balance <user>')
      .description("a user's balance (the sum of their ledger entries) and their entries, newest first"),
    { stripe: false, writes: false },
  ).action(async (user: string, flags: CommonFlags) =>
    setResult(await (await import('./balance.js')).balanceCommand(ctx, user, flags)),
  );

  common(
    program
      .command('lookup <query>')
      .description(
        'what Stripe, the matching chain and the ledger say about a payment (cs_…, pi_…) or a user (id, email or Stripe customer cus_…), with its refunds, disputes and what was taken back',
      ),
    { stripe: true, writes: false },
  )
    .addHelpText(
      'after',
      `
QUERY is a payment (cs_…, pi_…), a user id, an email, or a Stripe customer (cus_…). A customer
shows the lookup of the user it belongs to: by users.stripeCustomerId when configured, else by
the payments the tool recorded for it, else by its newest payments in Stripe as the matching
chain assigns them.
Exit codes: 0 found; 2 bad input, or nobody (or several users) for the query.`,
    )
    .action(async (query: string, flags: CommonFlags) =>
      setResult(await (await import('./lookup.js')).lookupCommand(ctx, query, flags)),
    );
}

/** `audit` checks the ledger's purchase entries against Stripe, read-only; `audit resolve` closes one finding. */
function registerAudit({ program, ctx, setResult, common }: Registrar): void {
  const auditCmd = common(
    program
      .command('audit')
      .description(
        'check every purchase entry of the window against Stripe, read-only: credits no payment backs (not found, not paid, other mode, not a credit purchase, wrong user, other credits, duplicate, refunded or disputed with no reversal)',
      )
      .option('--since <when>', "start of the window, on the entry's time (default: 30 days ago)")
      .option('--until <when>', 'end of the window, exclusive (default: now)'),
    { stripe: true, writes: false },
  )
    .addHelpText(
      'after',
      `
Look at each finding, fix the cause (say, the app's matching), then close it:
  $ stripe-credits audit --since 90d                                    findings by code, credits at stake per user
  $ stripe-credits audit resolve 42 --reason "goodwill refund"          keep the credits as they are
  $ stripe-credits audit resolve 43 --reverse --reason "wrong user"     take them back (a correction entry)
Exit codes: 0 every entry backed; 3 findings (listed); 2 bad input.`,
    )
    .action(async (flags: CommonFlags) => setResult(await (await import('./audit.js')).auditCommand(ctx, flags)));
  common(
    auditCmd
      .command('resolve <entry>')
      .description(
        'close one finding of audit (ENTRY: the entryId it prints): accept the entry as it is, or with --reverse write a correction that takes its credits back; keeps who and why',
      ),
    { stripe: true, writes: true },
  )
    .requiredOption('--reason <text>', 'why (required; recorded)')
    .option('--reverse', "take the entry's credits back with a correction entry (once per entry)")
    .addHelpText(
      'after',
      `
Exit codes: 0 resolved; 2 bad input, no such entry, no finding (Stripe backs it) or resolved already (nothing written).`,
    )
    .action(async (entry: string, _flags: unknown, cmd: Command) =>
      setResult(await (await import('./audit.js')).auditResolveCommand(ctx, entry, cmd.optsWithGlobals())),
    );
}
