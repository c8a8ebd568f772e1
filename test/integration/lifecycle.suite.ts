/**
 * Issue #2's "must show", driven only through the product: the real CLI and `db-access worker` processes, a real
 * state store (SQLite), a private real Redis (so FLUSHALL hurts nobody else) and a real target server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import { requestAccess } from '../../src/core/asking.js';
import { approve } from '../../src/core/deciding.js';
import { revealCredentials, revoke } from '../../src/core/lifecycle.js';
import type { Grant } from '../../src/core/model.js';
import { dumpTables, type OpenStateStore } from '../../src/store/index.js';
import type { TestSession } from '../contract/database-engine.contract.js';
import { openTestApp, type TestApp } from '../support/app.js';
import { tempSqliteUrl, writeCatalog } from '../support/catalog.js';
import { capturedOutput, runCli, startWorker, type WorkerProcess } from '../support/processes.js';
import { freePort, startPrivateRedis, type PrivateRedis } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gid } from '../support/ids.js';

/** A real target server prepared for the lifecycle tests. */
export interface LiveTarget {
  entry: DatabaseEntry;
  sql: { select: string; insert: string };
  connect(username: string, password: string): Promise<TestSession>;
  userExists(username: string): Promise<boolean>;
  dropUserByHand(username: string): Promise<void>;
  /** Every user on the server whose name starts with jit_. */
  jitUsers(): Promise<string[]>;
  teardown(): Promise<void>;
}

interface IssuedGrant {
  grant: Grant;
  credentials: { username: string; password: string; expiresAt: number };
}

export function lifecycleSuite(label: string, makeTarget: () => Promise<LiveTarget>): void {
  describe(`lifecycle on ${label}`, () => {
    let target: LiveTarget;
    let redis: PrivateRedis;
    let env: Record<string, string>;
    let app: TestApp;
    let worker: WorkerProcess;
    const passwords: string[] = [];

    const db = () => target.entry.name;
    const grantOf = async (id: number) => (await app.app.deps.store.getGrant(gid(id)))!;

    async function cliGrant(duration: string, user = 'alice@example.com'): Promise<IssuedGrant> {
      const r = await runCli(
        [
          'grant',
          '--db',
          db(),
          '--level',
          'read',
          '--user',
          user,
          '--duration',
          duration,
          '--reason',
          'INC-4211 checking stuck orders',
          '--json',
        ],
        env,
      );
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as IssuedGrant;
      passwords.push(out.credentials.password);
      return out;
    }

    beforeAll(async () => {
      target = await makeTarget();
      redis = await startPrivateRedis();
      const catalog = writeCatalog([target.entry]);
      env = {
        ...catalog.env,
        CATALOG_PATH: catalog.path,
        DATABASE_URL: tempSqliteUrl(),
        REDIS_URL: redis.url,
        QUEUE_PREFIX: 'lifecycle',
        LOG_LEVEL: 'debug',
        WORKER_LOCK: '2s',
        SWEEP_INTERVAL: '5s',
      };
      const migrate = await runCli(['migrate'], env);
      expect(migrate.code, migrate.stderr).toBe(0);
      app = await openTestApp(env);
      worker = await startWorker(env);
    }, 120_000);

    afterAll(async () => {
      await worker?.stop();
      await app?.close();
      await redis?.stop();
      await target?.teardown();
    }, 60_000);

    it('read grant: logs in, SELECT works, INSERT refused; at expiry the idle-in-transaction session ends, login fails, the user is gone', async () => {
      const { grant, credentials } = await cliGrant('6s');
      expect(grant.status).toBe('active');
      const s = await target.connect(credentials.username, credentials.password);
      expect((await s.query(target.sql.select)).length).toBeGreaterThan(0);
      await expect(s.query(target.sql.insert)).rejects.toThrow();
      await s.query('BEGIN');
      await s.query(target.sql.select);

      await waitFor('the open session to be terminated at expiry', () => s.ended.then(() => true), {
        timeoutMs: 30_000,
      });
      const ended = await waitFor('the grant to be revoked', async () =>
        (await grantOf(grant.id)).status === 'revoked' ? grantOf(grant.id) : undefined,
      );
      expect(ended.revokedAt!).toBeGreaterThanOrEqual(ended.expiresAt); // never early
      await expect(target.connect(credentials.username, credentials.password)).rejects.toThrow();
      expect(await target.userExists(credentials.username)).toBe(false);
      const revoked = (await app.app.deps.store.listAudit({ grantId: grant.id })).filter(
        (a) => a.type === 'grant.revoked',
      );
      expect(revoked).toHaveLength(1);
      expect(revoked[0]!.detail).toMatchObject({ sessionsTerminated: 1, user: 'dropped' });
    });

    it('a user dropped by hand: revocation succeeds once and is audited as already absent', async () => {
      const { grant, credentials } = await cliGrant('1h');
      await target.dropUserByHand(credentials.username);
      const first = await runCli(['revoke', String(grant.id), '--reason', 'done'], env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain('was already absent');
      const second = await runCli(['revoke', String(grant.id)], env);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toContain('had already ended');
      const rows = (await app.app.deps.store.listAudit({ grantId: grant.id })).filter(
        (a) => a.type === 'grant.revoked',
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.detail).toMatchObject({ user: 'already_absent', sessionsTerminated: 0 });
      expect((await grantOf(grant.id)).status).toBe('revoked');
    });

    it('50 approvals against one target at once: 50 users, 0 errors', async () => {
      const deps = app.app.deps;
      const approver = { platform: 'slack' as const, id: 'UAPPROVER', email: 'bob@example.com', name: 'bob' };
      const requests = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          requestAccess(
            deps,
            { platform: 'slack', id: `UREQ${i}`, email: `eng${i}@example.com` },
            {
              database: db(),
              level: 'read',
              duration: '30m',
              reason: 'incident',
            },
          ),
        ),
      );
      const results = await Promise.allSettled(requests.map((r) => approve(deps, r.id, approver)));
      expect(
        results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
      ).toEqual([]);
      const grantIds = results
        .map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof approve>>>).value)
        .map((v) => {
          expect(v.status).toBe('approved');
          return v.status === 'approved' ? v.grant.id : gid(-1);
        });
      const active = await waitFor(
        '50 grants to become active',
        async () => {
          const gs = await deps.store.listGrants({ ids: grantIds });
          return gs.every((g) => g.status === 'active') ? gs : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(active).toHaveLength(50);
      const users = new Set(await target.jitUsers());
      for (const g of active) expect(users.has(g.username), g.username).toBe(true);
      const failures = (await deps.store.listAudit({ type: 'grant.provision_failed' })).filter((a) =>
        grantIds.includes(a.grantId!),
      );
      expect(failures).toEqual([]);
      // Revealing rotates the password: these are passwords that existed, for the leak scan below.
      for (const id of grantIds.slice(0, 3)) {
        const g = active.find((x) => x.id === id)!;
        passwords.push((await revealCredentials(deps, id, g.requester)).credentials.password);
      }
      // And 50 concurrent early revocations.
      const revoked = await Promise.allSettled(grantIds.map((id) => revoke(deps, id, approver, 'incident over')));
      expect(
        revoked.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
      ).toEqual([]);
      const left = new Set(await target.jitUsers());
      for (const g of active) expect(left.has(g.username)).toBe(false);
    });

    it('worker SIGKILLed after CREATE USER, before the grant is marked active: one user after recovery, revoked at expiry', async () => {
      await worker.stop();
      const crashing = await startWorker({ ...env, DB_ACCESS_FAILPOINT: 'provision.after-create-user' });
      const deps = app.app.deps;
      const req = await requestAccess(
        deps,
        { platform: 'slack', id: 'UCRASH', email: 'crash@example.com' },
        {
          database: db(),
          level: 'read',
          duration: '25s',
          reason: 'crash test',
        },
      );
      const res = await approve(deps, req.id, { platform: 'slack', id: 'UAPPROVER2', name: 'carol' });
      if (res.status !== 'approved') throw new Error('not approved');
      const { signal } = await crashing.exited;
      expect(signal).toBe('SIGKILL');
      expect((await grantOf(res.grant.id)).status).toBe('provisioning');
      expect(await target.userExists(res.grant.username)).toBe(true);

      worker = await startWorker(env);
      const active = await waitFor(
        'the grant to be recovered and active',
        async () => {
          const g = await grantOf(res.grant.id);
          return g.status === 'active' ? g : undefined;
        },
        { timeoutMs: 45_000, intervalMs: 200 },
      );
      const managed = (await deps.engines.get(db()).listManagedUsers()).filter((m) => m.grantId === res.grant.id);
      expect(managed.map((m) => m.username)).toEqual([res.grant.username]);
      expect((await target.jitUsers()).filter((u) => u === res.grant.username)).toHaveLength(1);
      const provisioned = await deps.store.listAudit({ grantId: res.grant.id, type: 'grant.provisioned' });
      expect(provisioned).toHaveLength(1);
      expect(provisioned[0]!.detail).toMatchObject({ user: 'adopted' });

      const ended = await waitFor(
        'the recovered grant to be revoked at expiry',
        async () => {
          const g = await grantOf(res.grant.id);
          return g.status === 'revoked' ? g : undefined;
        },
        { timeoutMs: 45_000, intervalMs: 200 },
      );
      expect(ended.revokedAt!).toBeGreaterThanOrEqual(active.expiresAt);
      expect(await target.userExists(res.grant.username)).toBe(false);
    });

    it('Redis FLUSHALL with pending grants: every grant is still revoked within 15 s of its expiry', async () => {
      const issued = await Promise.all([
        cliGrant('5s', 'f1@example.com'),
        cliGrant('7s', 'f2@example.com'),
        cliGrant('9s', 'f3@example.com'),
      ]);
      expect(await redis.client.flushall()).toBe('OK');
      // The running worker may write its own bookkeeping keys again at once (stalled check, markers); what matters is
      // that no job and no schedule survived.
      expect(
        (await redis.client.keys('*')).filter((k) => /:(revoke|provision)-\d+$|:(delayed|wait|prioritized)$/.test(k)),
      ).toEqual([]);
      for (const { grant } of issued) {
        const ended = await waitFor(
          `grant #${grant.id} to be revoked`,
          async () => {
            const g = await grantOf(grant.id);
            return g.status === 'revoked' ? g : undefined;
          },
          { timeoutMs: 40_000, intervalMs: 100 },
        );
        expect(ended.revokedAt! - ended.expiresAt).toBeGreaterThanOrEqual(0);
        expect(ended.revokedAt! - ended.expiresAt).toBeLessThanOrEqual(15_000);
        expect(await target.userExists(grant.username)).toBe(false);
      }
    });

    it('bad input: a clear error naming the field, and nothing executed on any target', async () => {
      const before = await target.jitUsers();
      const grantsBefore = (await app.app.deps.store.listGrants({})).length;
      const base = [
        'grant',
        '--db',
        db(),
        '--level',
        'read',
        '--user',
        'mallory@example.com',
        '--duration',
        '30m',
        '--reason',
        'x',
      ];
      const withArg = (flag: string, value: string) => {
        const args = [...base];
        args[args.indexOf(flag) + 1] = value;
        return args;
      };

      const level = await runCli(withArg('--level', 'superuser'), env);
      expect(level.code).toBe(1);
      expect(level.stderr).toContain('--level: unknown level "superuser"');
      expect(level.stderr).toContain(`Valid: ${[...target.entry.levels.keys()].join(', ')}`);

      const tooLong = await runCli(withArg('--duration', '5h'), env);
      expect(tooLong.code).toBe(1);
      expect(tooLong.stderr).toContain('--duration: duration 5h is longer than');
      expect(tooLong.stderr).toContain('maximum of 1h');

      const unknownDb = await runCli(withArg('--db', 'nope'), env);
      expect(unknownDb.code).toBe(1);
      expect(unknownDb.stderr).toContain(`--db: unknown database "nope". Valid: ${db()}`);

      const dir = mkdtempSync(join(tmpdir(), 'db-access-hostile-'));
      const hostile = (name: string, level: string) => {
        const path = join(dir, `${name}.yaml`);
        writeFileSync(
          path,
          `databases:\n  - name: ${db()}\n    engine: ${target.entry.engine}\n    host: ${target.entry.host}\n    port: ${target.entry.port}\n    database: ${target.entry.database}\n    admin: { user: ${target.entry.admin.user}, password: "\${${Object.keys(env).find((k) => k.endsWith('_ADMIN_PASSWORD'))}}" }\n    levels:\n      read: ${level}\n`,
        );
        return path;
      };
      const quoteRole = await runCli(base, {
        ...env,
        CATALOG_PATH: hostile('role', `{ roles: ['app_read"; DROP ROLE postgres; --'] }`),
      });
      expect(quoteRole.code).toBe(2);
      expect(quoteRole.stderr).toContain('databases[0].levels.read.roles[0]: role names may hold only letters, digits');
      const twoStatements = await runCli(base, {
        ...env,
        CATALOG_PATH: hostile('tpl', `{ grants: ["GRANT SELECT ON items TO {{user}}; DROP TABLE items"] }`),
      });
      expect(twoStatements.code).toBe(2);
      expect(twoStatements.stderr).toContain(
        'databases[0].levels.read.grants[0]: grant template must be a single statement',
      );

      expect(await target.jitUsers()).toEqual(before);
      expect((await app.app.deps.store.listGrants({})).length).toBe(grantsBefore);
    });

    it('extend moves the revoke job and the target backstop: access outlives the old expiry and ends after the new one', async () => {
      // 15 s: the extend below is a CLI process whose start-up alone takes seconds on a busy 2-core machine.
      const { grant, credentials } = await cliGrant('15s', 'ext@example.com');
      const s = await target.connect(credentials.username, credentials.password);
      const ext = await runCli(['extend', String(grant.id), '12s'], env);
      expect(ext.code, ext.stderr).toBe(0);
      const extended = await grantOf(grant.id);
      expect(extended.expiresAt).toBe(grant.expiresAt + 12_000);
      const managed = (await app.app.deps.engines.get(db()).listManagedUsers()).find(
        (m) => m.username === credentials.username,
      );
      expect(managed?.expiresAt).toBe(extended.expiresAt);
      // Past the old expiry, the session and the grant are still alive.
      await waitFor('the old expiry to pass', () => Date.now() > grant.expiresAt + 3_000, { timeoutMs: 30_000 });
      expect((await s.query(target.sql.select)).length).toBeGreaterThan(0);
      expect((await grantOf(grant.id)).status).toBe('active');
      const ended = await waitFor(
        'the extended grant to be revoked',
        async () => {
          const g = await grantOf(grant.id);
          return g.status === 'revoked' ? g : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      expect(ended.revokedAt!).toBeGreaterThanOrEqual(extended.expiresAt);
      await waitFor('the session to be ended', () => s.ended.then(() => true), { timeoutMs: 5_000 });
      expect(await target.userExists(credentials.username)).toBe(false);
    });

    it('the sweeper drops a managed user whose grant is not live (state restored from an older backup)', async () => {
      const { grant, credentials } = await cliGrant('1h', 'orphan@example.com');
      expect(await target.userExists(credentials.username)).toBe(true);
      const store = app.app.deps.store;
      expect(
        await store.transitionGrant(grant.id, ['active'], {
          status: 'revoked',
          revokedAt: Date.now(),
          endReason: 'test: row lost',
        }),
      ).toBe(true);
      await waitFor('the sweeper to drop the orphan', async () => !(await target.userExists(credentials.username)), {
        timeoutMs: 15_000,
        intervalMs: 100,
      });
      // The sweeper audits the drop once the user is gone: waited for, not assumed to be there already.
      const dropped = async () =>
        (await store.listAudit({ type: 'sweeper.orphan_dropped' })).filter(
          (a) => a.detail.username === credentials.username,
        );
      await waitFor('the audit row of the drop', async () => (await dropped()).length > 0, { timeoutMs: 10_000 });
      const rows = await dropped();
      expect(rows).toHaveLength(1);
      expect(rows[0]!.detail).toMatchObject({ markerGrantId: grant.id, grantStatus: 'revoked', user: 'dropped' });
    });

    it('check reports every target in plain words; grants list shows the grants; all serves /healthz and /readyz', async () => {
      const ok = await runCli(['check'], env);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(ok.stdout).toContain(`${db()} (`);
      expect(ok.stdout).toContain('All checks passed.');
      const down = writeCatalog([{ ...target.entry, port: await freePort() }]);
      const bad = await runCli(['check'], { ...env, ...down.env, CATALOG_PATH: down.path });
      expect(bad.code).toBe(1);
      expect(bad.stdout).toContain('[FAIL] connect');

      const list = await runCli(['grants', 'list', '--all', '--json'], env);
      expect(list.code, list.stderr).toBe(0);
      const rows = JSON.parse(list.stdout) as Grant[];
      expect(rows.length).toBeGreaterThan(50);
      const table = await runCli(['grants', 'list', '--all'], env);
      expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+DATABASE\s+LEVEL\s+USER\s+FOR\s+STATUS\s+EXPIRES/);

      const port = await freePort();
      const all = await startWorker({ ...env, PORT: String(port), METRICS_TOKEN: 'readyz-detail-token' }, 'all');
      try {
        const health = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect(health.status).toBe(200);
        // Status only for anyone; the detail (target names, errors) only with METRICS_TOKEN.
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
        expect(ready.status).toBe(200);
        expect(await ready.json()).toEqual({ ok: true });
        const detail = await fetch(`http://127.0.0.1:${port}/readyz`, {
          headers: { authorization: 'Bearer readyz-detail-token' },
        });
        expect(await detail.json()).toEqual({
          ok: true,
          checks: { stateStore: 'ok', redis: 'ok' },
          targets: { [db()]: 'ok' },
        });
      } finally {
        await all.stop();
      }
    });

    it('no password appears in the state DB, in any Redis key, or in any log line captured', async () => {
      expect(passwords.length).toBeGreaterThanOrEqual(8);
      const haystacks: Array<[string, string]> = [];
      haystacks.push(['state DB', JSON.stringify(await dumpTables((app.app.deps.store as OpenStateStore).knex))]);
      const keys = await redis.client.keys('*');
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        const type = await redis.client.type(key);
        const value =
          type === 'hash'
            ? await redis.client.hgetall(key)
            : type === 'zset'
              ? await redis.client.call('ZRANGE', key, '0', '-1', 'WITHSCORES')
              : type === 'list'
                ? await redis.client.lrange(key, 0, -1)
                : type === 'set'
                  ? await redis.client.smembers(key)
                  : type === 'string'
                    ? await redis.client.get(key)
                    : type === 'stream'
                      ? await redis.client.xrange(key, '-', '+')
                      : type;
        haystacks.push([`redis ${key}`, JSON.stringify(value)]);
      }
      haystacks.push(['worker output', worker.output()]);
      haystacks.push(['captured logs', [...capturedOutput, ...app.logs].join('\n')]);
      expect(haystacks.find(([, text]) => text.includes('"grantId"') || text.length > 0)).toBeTruthy();
      for (const [where, text] of haystacks) {
        for (const p of passwords) expect(text.includes(p), `a password leaked into ${where}`).toBe(false);
      }
    });
  });
}
