#!/usr/bin/env node
/** db-access CLI entry: parses the command line (serve | worker | all | migrate | check | grant | grants | revoke |
 *  extend | audit | report | request) and runs the verb; the verbs are src/cli/commands.ts and src/cli/request.ts,
 *  the broker is built by src/app.ts. */
import { Command, Option } from 'commander';
import { loadSettings } from './config/settings.js';
import { readFirstLine, requestCommand, type RequestCliOptions } from './cli/request.js';
import {
  auditExportCommand,
  reportCommand,
  auditVerifyCommand,
  checkCommand,
  cliContext as context,
  exitCodeOf,
  extendCommand,
  grantCommand,
  grantsListCommand,
  migrateCommand,
  revokeCommand,
  runRoles,
} from './cli/commands.js';

const program = new Command()
  .name('db-access')
  .description('Just-in-time database access: short-lived PostgreSQL and MySQL/MariaDB users, revoked on time.')
  .showHelpAfterError();

program
  .command('migrate')
  .description('apply pending state-store migrations')
  .action(() => migrateCommand(context()));

program
  .command('check')
  .description('validate the catalog and check every target: reachable, privileges sufficient, backstops')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    if (!(await checkCommand(context(), o))) process.exitCode = 1;
  });

program
  .command('grant')
  .description('issue access directly as an administrator (audited); prints the credentials once')
  .requiredOption('--db <name>', 'catalog database name')
  .requiredOption('--level <level>', 'access level')
  .requiredOption('--user <email>', 'who gets the access')
  .requiredOption('--duration <duration>', 'e.g. 30m, 2h')
  .requiredOption('--reason <text>', 'why (audited)')
  .option('--ticket <ref>', 'incident or ticket reference')
  .option('--json', 'machine-readable output')
  .action((o) => grantCommand(context(), o));

const grants = program.command('grants').description('inspect grants');
grants
  .command('list')
  .description('list live grants (or all with --all)')
  .option('--all', 'include ended grants')
  .addOption(new Option('--status <list>', 'comma-separated statuses'))
  .option('--json', 'machine-readable output')
  .action((o) => grantsListCommand(context(), o));

program
  .command('revoke <id>')
  .description('revoke a grant now: lock, end its sessions, drop the user')
  .option('--reason <text>', 'why (audited)')
  .option('--json', 'machine-readable output')
  .action((id: string, o) => revokeCommand(context(), id, o));

program
  .command('extend <id> <duration>')
  .description("move a grant's expiry later (within the database's maxDuration)")
  .action((id: string, duration: string) => extendCommand(context(), id, duration));

const audit = program.command('audit').description('the hash-chained audit log');
audit
  .command('verify')
  .description('walk the chain; name every row that was modified, inserted or deleted')
  .action(async () => {
    if (!(await auditVerifyCommand(context()))) process.exitCode = 1;
  });
audit
  .command('export')
  .description('write audit events as CSV or JSON Lines to stdout')
  .option('--since <when>', '2026-11-01, an ISO time, or 30d')
  .option('--until <when>', 'exclusive end, same forms')
  .addOption(new Option('--format <format>', 'csv or jsonl').choices(['csv', 'jsonl']).default('jsonl'))
  .action((o) => auditExportCommand(context(), o));

program
  .command('report')
  .description('who held which access, when, for how long, approved by whom')
  .option('--since <when>', '2026-11-01, an ISO time, or 30d', '30d')
  .option('--until <when>', 'exclusive end, same forms')
  .addOption(new Option('--format <format>', 'table or csv').choices(['table', 'csv']).default('table'))
  .option('--post <channel>', 'post it to this Slack channel instead (run it from cron for a schedule)')
  .option('--dm-approvers', 'with --post: DM every approver a link to the report page of their own (PUBLIC_URL)')
  .action((o) => reportCommand(context(), o));

program
  .command('request <db> <level> <duration> <reason...>')
  .description('ask for access from a shell: a code sent to you in chat signs you in, then wait for the decision')
  .option('--as <person>', 'who you are in chat: your email, slack:U… or teams:<AAD object id>')
  .option('--broker <url>', "the broker's URL (default: DB_ACCESS_URL)")
  .option('--ticket <ref>', 'incident or ticket reference')
  .option('--json', 'one JSON object on stdout (messages on stderr)')
  .action(async (db: string, level: string, duration: string, reason: string[], o: RequestCliOptions) => {
    const settings = loadSettings();
    process.exitCode = await requestCommand(
      {
        out: (text) => process.stdout.write(`${text}\n`),
        err: (text) => process.stderr.write(`${text}\n`),
        readLine: readFirstLine,
        onInterrupt: (fn) => process.once('SIGINT', fn),
        ...(settings.DB_ACCESS_URL && { brokerUrl: settings.DB_ACCESS_URL }),
      },
      { db, level, duration, reason: reason.join(' ') },
      o,
    );
  });

program
  .command('worker')
  .description('run provisioning/revocation workers and the sweeper')
  .action(() => runRoles(context(), { http: false, worker: true }));
program
  .command('serve')
  .description('run the HTTP server')
  .action(() => runRoles(context(), { http: true, worker: false }));
program
  .command('all')
  .description('HTTP server and worker in one process (small installs)')
  .action(() => runRoles(context(), { http: true, worker: true }));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = exitCodeOf(err, (text) => process.stderr.write(`${text}\n`));
}
