/**
 * `npm run demo` (`tsx dev/demo.ts`; not part of the production CLI or image): the lifecycle on this machine, printed as the transcript a person would see. It prepares a demo
 * database on the local PostgreSQL (127.0.0.1:5432, user postgres) and MariaDB (127.0.0.1:3306, root), a
 * least-privilege admin on each made with the README's setup SQL, an embedded SQLite state store and a private
 * BullMQ prefix on the local Redis, then: grant → connect → INSERT refused → idle transaction → expiry → session
 * terminated, login refused, user gone, audit trail — first as the Slack journey (people act through signed
 * requests to the broker's HTTP endpoint; Slack is the local Web API double, dev/slack/double.ts), then the
 * Teams journey (Activities to /api/messages; the Bot Connector double, dev/teams/connector-double.ts), then
 * as an administrator's direct grant from the CLI.
 */
import { mkdtempSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { stringify } from 'yaml';
import { loadCatalog } from '../src/config/catalog.js';
import { loadSettings } from '../src/config/settings.js';
import { generatePassword } from '../src/core/identifiers.js';
import { provision } from '../src/core/lifecycle.js';
import { createAdminGrant } from '../src/core/asking.js';
import { createLogger } from '../src/logging.js';
import { migrateLatest } from '../src/store/index.js';
import { mysqlAdminSetupSql } from '../src/targets/mysql/index.js';
import { postgresAdminSetupSql, scramSha256Verifier } from '../src/targets/postgres/index.js';
import { startServices, type App } from '../src/app.js';
import { startSlackDouble } from './slack/double.js';
import { startTeamsConnectorDouble } from './teams/connector-double.js';
import { seedTeams, TEAMS_CHANNEL, teamsScenario } from './demo/teams.js';
import { openSession } from './demo/session.js';
import { bundleScenario } from './demo/bundle.js';
import { APPROVAL_CHANNEL, DEMO_SECRET, PEOPLE, seedSlack, slackScenario } from './demo/slack.js';
import { cliActor } from '../src/cli/commands.js';
import { explainError, formatCredentials, utc } from '../src/cli/format.js';
import { BrokerError, describeError } from '../src/core/errors.js';

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };
/** MARIADB_PORT: another local MariaDB (root, empty password) than the one on 3306, as the tests allow. */
const MARIA = { host: '127.0.0.1', port: Number(process.env.MARIADB_PORT ?? 3306), user: 'root', password: '' };
const DEMO_DB = 'db_access_demo';
const ADMIN = 'db_access_demo_admin';
const DURATION = '8s';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const say = (s = '') => console.log(s);
const cmd = (s: string) => say(`${bold('$')} ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function preparePostgres(adminPassword: string): Promise<void> {
  const admin = new pg.Client({ ...PG, database: 'postgres' });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DEMO_DB]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DEMO_DB}`);
  } finally {
    await admin.end();
  }
  const c = new pg.Client({ ...PG, database: DEMO_DB });
  await c.connect();
  try {
    await c.query('CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, item text, status text)');
    const n = await c.query('SELECT count(*)::int AS n FROM orders');
    if (n.rows[0].n === 0)
      await c.query(
        "INSERT INTO orders (item, status) VALUES ('keyboard','stuck'), ('mouse','shipped'), ('screen','stuck')",
      );
    if ((await c.query("SELECT 1 FROM pg_roles WHERE rolname = 'demo_read'")).rowCount === 0)
      await c.query('CREATE ROLE demo_read NOLOGIN');
    await c.query('GRANT USAGE ON SCHEMA public TO demo_read');
    await c.query('GRANT SELECT ON orders TO demo_read');
    const hasAdmin = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [ADMIN])).rowCount! > 0;
    const serverVersionNum = Number((await c.query("SELECT current_setting('server_version_num') AS v")).rows[0].v);
    for (const sql of postgresAdminSetupSql({
      adminUser: ADMIN,
      database: DEMO_DB,
      roles: ['demo_read'],
      serverVersionNum,
    })) {
      if (sql.startsWith('--') || (hasAdmin && sql.startsWith('CREATE ROLE'))) continue;
      await c.query(sql);
    }
    await c.query(`ALTER ROLE ${ADMIN} PASSWORD '${scramSha256Verifier(adminPassword)}'`);
  } finally {
    await c.end();
  }
}

async function prepareMariadb(adminPassword: string): Promise<void> {
  const c = await mysql.createConnection({ ...MARIA });
  try {
    await c.query(`CREATE DATABASE IF NOT EXISTS ${DEMO_DB}`);
    await c.query(
      `CREATE TABLE IF NOT EXISTS ${DEMO_DB}.orders (id int AUTO_INCREMENT PRIMARY KEY, item varchar(50), status varchar(20))`,
    );
    const [rows] = await c.query(`SELECT count(*) AS n FROM ${DEMO_DB}.orders`);
    if ((rows as Array<{ n: number }>)[0]!.n === 0) {
      await c.query(
        `INSERT INTO ${DEMO_DB}.orders (item, status) VALUES ('keyboard','stuck'), ('mouse','shipped'), ('screen','stuck')`,
      );
    }
    await c.query('CREATE ROLE IF NOT EXISTS demo_read');
    await c.query(`GRANT SELECT ON ${DEMO_DB}.* TO demo_read`);
    for (const sql of mysqlAdminSetupSql({
      adminUser: ADMIN,
      adminHost: '%',
      database: DEMO_DB,
      roles: ['demo_read'],
      brokerSchema: 'db_access_demo_broker',
      flavour: 'mariadb',
      adminPassword,
    })) {
      await c.query(sql);
    }
    await c.query(`ALTER USER '${ADMIN}'@'%' IDENTIFIED BY '${adminPassword}'`);
  } finally {
    await c.end();
  }
}

async function cliScenario(app: App, database: string, label: string): Promise<void> {
  const deps = app.deps;
  say();
  say(bold(`━━ CLI: ${database} (${label}) ━━`));
  cmd(
    `db-access grant --db ${database} --level read --user alice@example.com --duration ${DURATION} --reason "INC-4211 checking stuck orders"`,
  );
  const admin = cliActor();
  const { grant } = await createAdminGrant(
    deps,
    admin,
    { platform: 'cli', id: 'email:alice@example.com', email: 'alice@example.com' },
    {
      database,
      level: 'read',
      duration: DURATION,
      reason: 'INC-4211 checking stuck orders',
      ticket: 'INC-4211',
    },
  );
  const res = await provision(deps, grant.id, { credentials: true });
  if (res.outcome !== 'active' || !res.credentials) throw new Error(`grant #${grant.id} did not become active`);
  say(formatCredentials(res.grant, res.credentials, deps.clock.now()));
  const c = res.credentials;
  const client = c.engine === 'postgres' ? 'psql' : 'mysql';
  const flag = c.engine === 'postgres' ? '-c' : '-e';

  say();
  const s = await openSession(c);
  cmd(`${client} … ${flag} "SELECT item, status FROM orders WHERE status = 'stuck'"`);
  say(await s.query("SELECT item, status FROM orders WHERE status = 'stuck'"));
  cmd(`${client} … ${flag} "UPDATE orders SET status = 'shipped'"`);
  say(await s.query("UPDATE orders SET status = 'shipped'").catch((err: Error) => `ERROR: ${err.message}`));
  cmd(
    `${client} … ${flag} "BEGIN; SELECT count(*) FROM orders;"   ${dim('# then left idle inside the open transaction')}`,
  );
  await s.query('BEGIN');
  say(await s.query('SELECT count(*) AS n FROM orders'));

  say();
  say(
    dim(
      `… waiting for expiry at ${utc(grant.expiresAt)}; a delayed job revokes it, the sweeper would if Redis were gone`,
    ),
  );
  let ended = (await deps.store.getGrant(grant.id))!;
  const deadline = grant.expiresAt + 30_000;
  while (ended.status !== 'revoked' && Date.now() < deadline) {
    await sleep(50);
    ended = (await deps.store.getGrant(grant.id))!;
  }
  const receipt = (await deps.store.listAudit({ grantId: grant.id, type: 'grant.revoked' }))[0];
  if (!receipt) throw new Error(`grant #${grant.id} was not revoked by ${utc(deadline)}`);
  const d = receipt.detail as { sessionsTerminated: number; user: string; lateMs: number };
  say(
    `revoked at ${utc(ended.revokedAt!)} (${d.lateMs} ms after expiry): ${d.sessionsTerminated} session(s) terminated, user ${d.user === 'dropped' ? 'dropped' : 'already absent'}`,
  );
  say(
    `the idle session: ${await Promise.race([s.ended, sleep(5_000).then(() => 'STILL OPEN (this would be a bug)')])}`,
  );
  await s.close();
  cmd(`${client} '${c.url.replace(c.password, '••••')}'`);
  say(
    await openSession(c).then(
      async (again) => {
        await again.close();
        return 'LOGGED IN (this would be a bug)';
      },
      (err: Error) => `login refused: ${err.message}`,
    ),
  );
  const users = await deps.engines.get(database).listManagedUsers();
  say(
    `user ${c.username} still on the server: ${users.some((u) => u.username === c.username) ? 'YES (this would be a bug)' : 'no'}`,
  );

  say();
  say(bold(`audit trail of grant #${grant.id}`));
  for (const e of await deps.store.listAudit({ grantId: grant.id })) {
    const who = e.actor.name ?? e.actor.email ?? e.actor.id;
    say(`  ${utc(e.at)}  ${e.type.padEnd(24)} ${who.padEnd(10)} ${dim(JSON.stringify(e.detail))}`);
  }
}

async function runDemo(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'db-access-demo-'));
  const slack = await startSlackDouble();
  seedSlack(slack);
  const teams = await startTeamsConnectorDouble();
  seedTeams(teams);
  const pgPassword = generatePassword();
  const mariaPassword = generatePassword();
  say(bold('db-access demo') + dim(`  (state, catalog and logs in ${dir})`));
  say(dim('preparing demo databases, roles and least-privilege admins on local PostgreSQL and MariaDB …'));
  try {
    await preparePostgres(pgPassword);
  } catch (err) {
    throw new Error(
      `PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) is needed for the demo: ${(err as Error).message}`,
      { cause: err },
    );
  }
  try {
    await prepareMariadb(mariaPassword);
  } catch (err) {
    throw new Error(
      `MariaDB on 127.0.0.1:${MARIA.port} (root, empty password) is needed for the demo: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const catalogPath = join(dir, 'catalog.yaml');
  const levels = { read: { roles: ['demo_read'], statementTimeout: '30s', connectionLimit: 3 } };
  writeFileSync(
    catalogPath,
    stringify({
      databases: [
        {
          name: 'orders-pg',
          description: 'Orders on PostgreSQL',
          engine: 'postgres',
          host: PG.host,
          port: PG.port,
          database: DEMO_DB,
          admin: { user: ADMIN, password: '${DEMO_PG_ADMIN_PASSWORD}' },
          levels,
          maxDuration: '1h',
          limits: { selfExtensions: 1 },
          approval: {
            slackChannel: APPROVAL_CHANNEL,
            approvers: [{ email: PEOPLE.bob.email }, { slackUsergroup: 'S0DBAS' }],
          },
        },
        {
          name: 'orders-maria',
          description: 'Orders on MariaDB',
          engine: 'mysql',
          host: MARIA.host,
          port: MARIA.port,
          database: DEMO_DB,
          admin: { user: ADMIN, password: '${DEMO_MARIA_ADMIN_PASSWORD}' },
          levels,
          maxDuration: '1h',
          brokerSchema: 'db_access_demo_broker',
          approval: { teamsChannel: TEAMS_CHANNEL, approvers: [{ email: 'bob@example.com' }] },
        },
      ],
      bundles: [
        {
          name: 'orders-both',
          description: 'Orders on PostgreSQL and on MariaDB, read only',
          members: [
            { database: 'orders-pg', level: 'read' },
            { database: 'orders-maria', level: 'read' },
          ],
          approval: { slackChannel: APPROVAL_CHANNEL, approvers: [{ email: PEOPLE.bob.email }] },
        },
      ],
    }),
  );
  const env = {
    ...process.env,
    DEMO_PG_ADMIN_PASSWORD: pgPassword,
    DEMO_MARIA_ADMIN_PASSWORD: mariaPassword,
    CATALOG_PATH: catalogPath,
    DATABASE_URL: `sqlite:${join(dir, 'state.sqlite')}`,
    QUEUE_PREFIX: `db-access-demo-${process.pid}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    PORT: '0',
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: DEMO_SECRET,
    SLACK_API_URL: slack.url,
    // Teams without a bot registration: local development only, so the server binds loopback and the bot talks to
    // the Bot Connector double alone.
    HOST: '127.0.0.1',
    TEAMS_ANONYMOUS: 'true',
    TEAMS_SERVICE_URL: teams.url,
    TEAMS_TENANT_ID: teams.tenantId,
    SWEEP_INTERVAL: '1s',
    REMIND_BEFORE: '6s',
  };
  const settings = loadSettings(env);
  const catalog = loadCatalog(catalogPath, env);
  await migrateLatest(settings.DATABASE_URL);
  const logger = createLogger(settings.LOG_LEVEL, createWriteStream(join(dir, 'db-access.log')));
  const services = await startServices({ settings, catalog, logger }, { http: true, worker: true });
  const app = services.app;
  const baseUrl = `http://127.0.0.1:${services.port}`;
  try {
    for (const { database, engine } of app.engines.all()) {
      const caps = await engine.initialize();
      const failed = caps.checks.filter((c) => !c.ok);
      say(
        dim(
          `check ${database}: ${caps.flavour} ${caps.serverVersion}; ${failed.length ? failed.map((f) => `${f.severity}: ${f.detail}`).join('; ') : 'all checks pass'}`,
        ),
      );
    }
    await slackScenario(app, slack, baseUrl, 'orders-pg', '14s');
    await teamsScenario(app, teams, baseUrl, 'orders-maria', '8s');
    await cliScenario(app, 'orders-maria', 'MariaDB');
    await bundleScenario(app, slack, baseUrl, 'orders-both', '8s');
    say();
    say(
      bold('Done.') +
        ' Every password above was generated once and stored nowhere; PostgreSQL received only a SCRAM verifier of it.',
    );
  } finally {
    await services.stop();
    await slack.stop();
    await teams.stop();
  }
}

try {
  await runDemo();
} catch (err) {
  const message = err instanceof BrokerError ? explainError(err) : describeError(err);
  process.stderr.write(`error: ${message}\n`);
  process.exitCode = 1;
}
