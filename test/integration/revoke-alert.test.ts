/**
 * Revocation against a target that is down: retried without a cap, never marked revoked, and flagged once after
 * REVOKE_ALERT_AFTER — with the real PostgreSQL engine pointed at a port where nothing listens, the real SQLite
 * store and an injected clock (so ten minutes pass in milliseconds).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { TargetError } from '../../src/core/errors.js';
import { revoke } from '../../src/core/lifecycle.js';
import type { Grant } from '../../src/core/model.js';
import type { Notifier, Scheduler } from '../../src/core/ports.js';
import { createAdminGrant } from '../../src/core/asking.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { coreDeps } from '../support/core-deps.js';
import { recordingNotifier } from '../support/notifiers.js';
import { freePort } from '../support/redis.js';

describe('revocation while the target is down', () => {
  let store: OpenStateStore;
  let deps: CoreDeps;
  let now = Date.UTC(2026, 10, 28, 12, 0, 0);
  const stuck: Grant[] = [];

  beforeAll(async () => {
    const port = await freePort();
    const catalog = parseCatalog(
      `databases:
  - name: down
    engine: postgres
    host: 127.0.0.1
    port: ${port}
    database: app
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [app_read] } }
`,
      {},
    );
    const url = tempSqliteUrl();
    await migrateLatest(url);
    store = await openStateStore(url);
    const scheduler: Scheduler = {
      provision: async () => {},
      revokeAt: async () => {},
      scheduleRevokes: async () => {},
      cancelRevoke: async () => {},
    };
    const notifier: Notifier = { ...recordingNotifier(), revocationStuck: async (v) => void stuck.push(v.grant!) };
    deps = coreDeps(catalog, store, { scheduler, notifier, clock: { now: () => now } });
  });

  afterAll(async () => {
    await deps?.engines.close();
    await store?.close();
  });

  it('retries, keeps the grant live, and flags it exactly once after ten minutes', async () => {
    const { grant } = await createAdminGrant(
      deps,
      { platform: 'cli', id: 'cli:test' },
      { platform: 'cli', id: 'email:a@b.c', email: 'a@b.c' },
      {
        database: 'down',
        level: 'read',
        duration: '1h',
        reason: 'test',
      },
    );
    // The user was provisioned before the target went down.
    expect(await store.transitionGrant(grant.id, ['provisioning'], { status: 'active', activatedAt: now })).toBe(true);
    now = grant.expiresAt;

    const attempt = async () => {
      const err = await revoke(deps, grant.id).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TargetError);
      expect((err as TargetError).kind).toBe('retryable');
      return (await store.getGrant(grant.id))!;
    };

    let g = await attempt();
    expect(g).toMatchObject({ status: 'revoking', revokeAttempts: 1, revokeFailingSince: now });
    expect(g.flaggedAt).toBeUndefined();
    const failingSince = now;

    now += 9 * 60_000 + 59_000;
    g = await attempt();
    expect(g.revokeAttempts).toBe(2);
    expect(g.flaggedAt).toBeUndefined();
    expect(stuck).toHaveLength(0);

    now = failingSince + 10 * 60_000;
    g = await attempt();
    expect(g.flaggedAt).toBe(now);
    expect(g.revokeFailingSince).toBe(failingSince);
    expect(stuck.map((s) => s.id)).toEqual([grant.id]);

    now += 60_000;
    g = await attempt();
    expect(g.revokeAttempts).toBe(4);
    expect(stuck).toHaveLength(1);

    const audit = await store.listAudit({ grantId: grant.id });
    expect(audit.filter((a) => a.type === 'grant.revoke_failed')).toHaveLength(4);
    expect(audit.filter((a) => a.type === 'grant.revoke_flagged')).toHaveLength(1);
    expect(audit.filter((a) => a.type === 'grant.revoked')).toHaveLength(0);
    expect(g.status).toBe('revoking');
  });
});
