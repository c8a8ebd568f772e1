/**
 * BrokerMetrics on a real state store (SQLite, a temp file): the gauges are the store's counts, the histograms
 * come from the audit log with the request's and grant's creation times, read once per page of events.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor, AuditEvent } from '../../src/core/model.js';
import type { NewRequest, StateStore } from '../../src/core/ports.js';
import { BrokerMetrics } from '../../src/observability/metrics.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';

const T0 = Date.UTC(2031, 0, 2, 3, 4, 5);
const who: Actor = { platform: 'slack', id: 'UMETRICS', email: 'm@example.com' };

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Counts every query the store sends, by wrapping the methods the metrics call. */
function counting(store: StateStore): { store: StateStore; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: wrapped, calls };
}

describe('BrokerMetrics', () => {
  let dir: string;
  let store: OpenStateStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'metrics-'));
    const url = `sqlite:${join(dir, 'state.sqlite')}`;
    await migrateLatest(url);
    store = await openStateStore(url);
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function grantFor(n: number, createdAt: number) {
    const request: NewRequest = {
      requester: who,
      database: 'orders',
      level: 'read',
      durationMs: 3_600_000,
      reason: `r${n}`,
      status: 'pending',
      createdAt: createdAt - 30_000,
      approvers: [],
      requiredApprovals: 1,
      tier: 0,
      breakGlass: false,
    };
    const req = await store.createRequest(request);
    const grant = await store.createGrant({
      requestId: req.id,
      requester: who,
      database: 'orders',
      level: 'read',
      username: `jit_metrics_${n}`,
      createdAt,
      expiresAt: createdAt + 3_600_000,
    });
    return { req, grant };
  }

  it('gauges are the live grants, the flagged ones and the pending requests; histograms read each page once', async () => {
    const made = [];
    for (let i = 0; i < 6; i++) made.push(await grantFor(i, T0 + i * 1000));
    const [, a1, a2, r, f, d] = made; // the first stays provisioning
    for (const g of [a1!, a2!, r!, f!])
      expect(await store.transitionGrant(g.grant.id, ['provisioning'], { status: 'active' })).toBe(true);
    expect(await store.transitionGrant(r!.grant.id, ['active'], { status: 'revoking' })).toBe(true);
    expect(await store.transitionGrant(f!.grant.id, ['active'], { status: 'revoking', flaggedAt: T0 + 9 })).toBe(true);
    expect(await store.transitionGrant(d!.grant.id, ['provisioning'], { status: 'failed' })).toBe(true);
    const events: AuditEvent[] = made.flatMap(({ req, grant }, i) => [
      {
        at: req.createdAt + 5_000 + i,
        type: 'request.approved' as const,
        actor: who,
        requestId: req.id,
        grantId: grant.id,
        database: 'orders',
        level: 'read',
        detail: {},
      },
      {
        at: grant.createdAt + 40 + i,
        type: 'grant.provisioned' as const,
        actor: who,
        requestId: req.id,
        grantId: grant.id,
        database: 'orders',
        level: 'read',
        detail: {},
      },
    ]);
    await store.transaction((tx) => tx.appendAudit(events));

    const { store: counted, calls } = counting(store);
    const text = await new BrokerMetrics(counted).render();
    expect(value(text, 'db_access_grants{status="provisioning"}')).toBe(1);
    expect(value(text, 'db_access_grants{status="active"}')).toBe(2);
    expect(value(text, 'db_access_grants{status="revoking"}')).toBe(2);
    expect(value(text, 'db_access_grants{status="flagged"}')).toBe(1);
    expect(value(text, 'db_access_pending_requests')).toBe(6); // created pending, never decided through the store
    expect(value(text, 'db_access_requests_total{outcome="approved",database="orders"}')).toBe(6);
    expect(value(text, 'db_access_time_to_decision_seconds_count')).toBe(6);
    // Request created at grant.createdAt − 30 s, approved 5 s after → 5.000…5.005 s each.
    expect(value(text, 'db_access_time_to_decision_seconds_sum')).toBeCloseTo(6 * 5 + 0.015, 6);
    expect(value(text, 'db_access_provision_duration_seconds_count')).toBe(6);
    expect(value(text, 'db_access_provision_duration_seconds_sum')).toBeCloseTo(6 * 0.04 + 0.015, 6);
    // Twelve events: one page, one read of the requests and one of the grants — not one read per event.
    expect(calls.get('listRequests')).toBe(1);
    expect(calls.get('listGrants')).toBe(1);
    expect(calls.get('getRequest')).toBeUndefined();
    expect(calls.get('getGrant')).toBeUndefined();
  });

  it('scrapes that overlap count each audit event once (the six approvals appended above)', async () => {
    const metrics = new BrokerMetrics(store);
    const [a, b] = await Promise.all([metrics.render(), metrics.render()]);
    const c = await metrics.render();
    for (const text of [a, b, c])
      expect(value(text, 'db_access_requests_total{outcome="approved",database="orders"}')).toBe(6);
  });
});
