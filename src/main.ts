#!/usr/bin/env node
/** db-access CLI entry: serve | worker | all | migrate | check | grant | grants | revoke | extend | request. */
import { Command, Option } from 'commander';
import { BrokerError, TargetError, describeError } from './core/errors.js';
import { ConfigError, loadCatalog } from './config/catalog.js';
import { loadSettings } from './config/settings.js';
import { createLogger } from './logging.js';
import { PendingMigrationsError } from './wiring.js';
import { explainError } from './cli/format.js';
import { readFirstLine, requestCommand, type RequestCliOptions } from './cli/request.js';
import {
  auditExportCommand,
  reportCommand,
  auditVerifyCommand,
  checkCommand,
  extendCommand,
  grantCommand,
  grantsListCommand,
  migrateCommand,
  revokeCommand,
  runRoles,
  type CliContext,
} from './cli/commands.js';

function context(): CliContext {
  const settings = loadSettings();
  const logger = createLogger(settings.LOG_LEVEL);
  return {
    settings,
    logger,
    loadCatalog: () => loadCatalog(settings.CATALOG_PATH),
    out: (text) => process.stdout.write(`${text}\n`),
  };
}

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
  if (err instanceof ConfigError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof BrokerError) {
    process.stderr.write(`error: ${explainError(err)}\n`);
    process.exitCode = 1;
  } else if (err instanceof TargetError || err instanceof PendingMigrationsError) {
    process.stderr.write(`error: ${describeError(err)}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
