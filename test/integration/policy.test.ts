/**
 * Approver routing and access policy, each rule with a case it allows and a case it refuses: the core with the
 * real SQLite store, the real PagerDuty and Opsgenie clients against local doubles of their documented APIs, and
 * an injected clock for escalation and review deadlines.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { BrokerError } from '../../src/core/errors.js';
import { chaseOverdueReviews, endResolvedIncidents, escalateDue } from '../../src/core/escalation.js';
import type { Actor } from '../../src/core/model.js';
import { requestAccess } from '../../src/core/asking.js';
import { approve, reviewBreakGlass } from '../../src/core/deciding.js';
import { startOpsgenieDouble, type OpsgenieDouble } from '../../dev/oncall/opsgenie-double.js';
import { startPagerDutyDouble, type PagerDutyDouble } from '../../dev/oncall/pagerduty-double.js';
import { WebClient } from '@slack/web-api';
import { SlackPeople } from '../../src/chat/slack/people.js';
import { startSlackDouble } from '../../dev/slack/double.js';
import { OpsgenieClient } from '../../src/oncall/opsgenie.js';
import { PagerDutyClient } from '../../src/oncall/pagerduty.js';
import { VendorIncidents } from '../../src/oncall/incidents.js';
import { ApproverResolver } from '../../src/oncall/resolver.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { coreDeps } from '../support/core-deps.js';
import { recordingNotifier } from '../support/notifiers.js';
import { rid } from '../support/ids.js';

const MIN = 60_000;
const person = (name: string): Actor => ({
  platform: 'slack',
  id: `U0${name.toUpperCase()}`,
  email: `${name}@example.com`,
  name,
});
const primary = person('priya'); // on call, PagerDuty schedule PPRIMARY
const secondary = person('sam'); // escalation policy PEPOLICY level 2
const lead = { ...person('lena'), email: 'dba-lead@example.com' }; // tier 2
const opsOnCall = person('olga'); // Opsgenie schedule sre-oncall
const dev = person('dev'); // nobody special
const sre = { ...person('sre'), email: 'sre-lead@example.com' }; // break-glass user

const CATALOG = `
databases:
  - name: orders
    engine: postgres
    host: 127.0.0.1
    port: 5432
    database: postgres
    admin: { user: postgres, password: unused }
    levels:
      read: { roles: [pg_read_all_data] }
      write: { roles: [pg_write_all_data], required: 2 }
    maxDuration: 4h
    limits: { activeGrantsPerPerson: 5, pendingRequestsPerPerson: 20 }
    approval:
      approvers: [{ pagerduty: { schedule: PPRIMARY } }]
      escalation:
        - { after: 5m, approvers: [{ pagerduty: { escalationPolicy: PEPOLICY, level: 2 } }] }
        - { after: 15m, approvers: [{ email: dba-lead@example.com }] }
      timeout: 1h
      autoApprove:
        - { levels: [read], maxDuration: 1h, requesterOnCall: { pagerduty: { schedule: PPRIMARY } }, budget: 2 }
        - { levels: [read], maxDuration: 30m, requesterOnCall: { opsgenie: { schedule: sre-oncall } }, budget: 1 }
      breakGlass: { users: [sre-lead@example.com], alertChannel: C0SECURITY, maxDuration: 1h, reviewWithin: 30m }
  - name: billing
    engine: postgres
    host: 127.0.0.1
    port: 5432
    database: postgres
    admin: { user: postgres, password: unused }
    levels: { read: { roles: [pg_read_all_data] }, write: { roles: [pg_write_all_data] } }
    limits: { activeGrantsPerPerson: 1 }
    approval:
      approvers: [{ pagerduty: { schedule: PPRIMARY } }, { email: dba-lead@example.com }]
  - name: payments
    engine: postgres
    host: 127.0.0.1
    port: 5432
    database: postgres
    admin: { user: postgres, password: unused }
    levels: { read: { roles: [pg_read_all_data] }, write: { roles: [pg_write_all_data] } }
    limits: { activeGrantsPerPerson: 1, pendingRequestsPerPerson: 20 }
    approval:
      approvers: [{ email: dba-lead@example.com }]
      autoApprove:
        - { levels: [read], maxDuration: 1h, whenResponding: true, budget: 2 }
`;

describe('access policy', () => {
  let pd: PagerDutyDouble;
  let og: OpsgenieDouble;
  let store: OpenStateStore;
  let deps: CoreDeps;
  let now = Date.UTC(2026, 10, 28, 9, 0, 0);
  const notifier = recordingNotifier();
  const provisioned: number[] = [];

  const code = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BrokerError);
    return err as BrokerError;
  };
  /** Ends a grant as if it had expired, so per-person limits do not carry over between cases. */
  const endGrantOf = async (requestId: number) => {
    const g = await store.getGrantByRequest(rid(requestId));
    if (g)
      await store.transitionGrant(g.id, ['provisioning', 'active', 'revoking'], { status: 'revoked', revokedAt: now });
  };

  beforeAll(async () => {
    pd = await startPagerDutyDouble({ token: 'pd-token', pageSize: 2 });
    og = await startOpsgenieDouble({ apiKey: 'og-key' });
    pd.setOnCall('PPRIMARY', [
      { email: primary.email!, name: 'Priya' },
      { email: 'other1@example.com' },
      { email: 'other2@example.com' },
    ]);
    pd.setEscalationLevel('PEPOLICY', 1, [{ email: primary.email! }]);
    pd.setEscalationLevel('PEPOLICY', 2, [{ email: secondary.email! }]);
    og.setOnCall('sre-oncall', [{ email: opsOnCall.email! }]);
    const url = tempSqliteUrl();
    await migrateLatest(url);
    store = await openStateStore(url);
    const catalog = parseCatalog(CATALOG, {});
    const clock = { now: () => now };
    const pagerduty = new PagerDutyClient({ token: 'pd-token', apiUrl: pd.url, clock, ttlMs: 0 });
    const opsgenie = new OpsgenieClient({ apiKey: 'og-key', apiUrl: og.url, clock, ttlMs: 0 });
    deps = coreDeps(catalog, store, {
      notifier,
      clock,
      enqueued: provisioned,
      approvers: new ApproverResolver(undefined, clock, { pagerduty, opsgenie }, 0),
      incidents: new VendorIncidents({ pagerduty, opsgenie }),
    });
  });

  afterAll(async () => {
    await deps?.engines.close();
    await store?.close();
    await pd?.stop();
    await og?.stop();
  });

  beforeEach(() => {
    pd.clearFaults?.();
    now += 25 * 3_600_000; // a fresh day per case: budgets and deadlines do not leak between cases
  });

  describe('auto-approval', () => {
    it('approves a read ≤ 1h for someone on call for the PagerDuty schedule, and says why', async () => {
      const req = await requestAccess(deps, primary, {
        database: 'orders',
        level: 'read',
        duration: '30m',
        reason: 'INC-1',
      });
      expect(req.status).toBe('approved');
      expect(req.decisionNote).toBe(
        'auto-approved: read ≤ 1h, you are on call for PagerDuty schedule PPRIMARY (1 of 2 today)',
      );
      const grant = (await store.getGrantByRequest(req.id))!;
      expect(provisioned).toContain(grant.id);
      const audit = await store.listAudit({ requestId: req.id, type: 'request.auto_approved' });
      expect(audit[0]!.detail).toMatchObject({ rule: 1, note: req.decisionNote });
      expect(notifier.events.find((e) => e.event === 'requestOpened' && e.view.request.id === req.id)).toBeTruthy();
      await endGrantOf(req.id);
    });

    it('refuses (sends to people) a level the rule does not cover, a longer duration, and someone not on call — each explained', async () => {
      const write = await requestAccess(deps, primary, {
        database: 'orders',
        level: 'write',
        duration: '30m',
        reason: 'x',
      });
      const long = await requestAccess(deps, primary, {
        database: 'orders',
        level: 'read',
        duration: '2h',
        reason: 'x',
      });
      const notOnCall = await requestAccess(deps, dev, {
        database: 'orders',
        level: 'read',
        duration: '10m',
        reason: 'x',
      });
      for (const r of [write, long, notOnCall]) expect(r.status).toBe('pending');
      const why = async (id: number) =>
        (await store.listAudit({ requestId: rid(id), type: 'request.created' }))[0]!.detail.autoApprove as string[];
      expect(await why(write.id)).toContain('rule 1: level write is not one of read');
      expect(await why(long.id)).toContain('rule 1: 2h is longer than 1h');
      expect(await why(notOnCall.id)).toContain('rule 1: you are not on call for PagerDuty schedule PPRIMARY');
      expect(await why(notOnCall.id)).toContain('rule 2: you are not on call for Opsgenie schedule sre-oncall');
    });

    it('a second rule approves someone on call in Opsgenie (≤ 30m), and not for longer', async () => {
      const ok = await requestAccess(deps, opsOnCall, {
        database: 'orders',
        level: 'read',
        duration: '20m',
        reason: 'x',
      });
      expect(ok.decisionNote).toMatch(/^auto-approved: read ≤ 30m, you are on call for Opsgenie schedule sre-oncall/);
      await endGrantOf(ok.id);
      const longer = await requestAccess(deps, opsOnCall, {
        database: 'orders',
        level: 'read',
        duration: '45m',
        reason: 'x',
      });
      expect(longer.status).toBe('pending');
    });

    it('each rule has a daily budget per person; it refills after a day', async () => {
      for (let i = 0; i < 2; i++) {
        const r = await requestAccess(deps, primary, {
          database: 'orders',
          level: 'read',
          duration: '10m',
          reason: `r${i}`,
        });
        expect(r.status).toBe('approved');
        await endGrantOf(r.id);
      }
      const third = await requestAccess(deps, primary, {
        database: 'orders',
        level: 'read',
        duration: '10m',
        reason: 'r3',
      });
      expect(third.status).toBe('pending');
      const why = (await store.listAudit({ requestId: third.id, type: 'request.created' }))[0]!.detail
        .autoApprove as string[];
      expect(why).toContain('rule 1: daily auto-approval budget used (2 of 2 in the last 24 h)');
      now += 24 * 3_600_000 + 1;
      const nextDay = await requestAccess(deps, primary, {
        database: 'orders',
        level: 'read',
        duration: '10m',
        reason: 'r4',
      });
      expect(nextDay.status).toBe('approved');
      await endGrantOf(nextDay.id);
    });
  });

  describe('approver sources', () => {
    it('when PagerDuty is down the other sources still apply and the request names the one that was unavailable', async () => {
      pd.failNext({ status: 500 }, { times: 100 });
      const req = await requestAccess(deps, dev, { database: 'billing', level: 'read', duration: '10m', reason: 'x' });
      expect(req.status).toBe('pending');
      expect(req.unavailableSources?.join(' ')).toMatch(/PagerDuty schedule PPRIMARY/);
      expect(req.approvers.map((a) => a.email)).toEqual(['dba-lead@example.com']);
      // An on-call check that cannot be made never auto-approves.
      const onCall = await requestAccess(deps, primary, {
        database: 'orders',
        level: 'read',
        duration: '10m',
        reason: 'x',
      }).catch((e: unknown) => e);
      expect(onCall).toBeInstanceOf(BrokerError); // nobody resolvable for orders while PagerDuty is down
      expect((onCall as BrokerError).message).toMatch(/nobody could be found .*PagerDuty schedule PPRIMARY/);
      pd.clearFaults();
      await approve(deps, req.id, lead);
      await endGrantOf(req.id);
    });

    it('an N-of-M level needs distinct approvers and the requester never counts', async () => {
      const req = await requestAccess(deps, primary, {
        database: 'orders',
        level: 'write',
        duration: '30m',
        reason: 'x',
      });
      expect(req.requiredApprovals).toBe(2);
      const err = await code(approve(deps, req.id, primary));
      expect(err.code).toBe('SELF_APPROVAL');
      pd.setOnCall('PPRIMARY', [
        { email: primary.email! },
        { email: 'other1@example.com' },
        { email: 'other2@example.com' },
      ]);
      expect((await approve(deps, req.id, { platform: 'slack', id: 'U0O1', email: 'other1@example.com' })).status).toBe(
        'pending',
      );
      expect((await approve(deps, req.id, { platform: 'slack', id: 'U0O2', email: 'other2@example.com' })).status).toBe(
        'approved',
      );
      await endGrantOf(req.id);
    });
  });

  describe('escalation tiers', () => {
    it('asks the next tier only after its delay, mentions it, and lets it approve from then on', async () => {
      // Earlier cases leave pending requests behind: settle them first so only this request can escalate.
      for (const r of await store.listRequests({ statuses: ['pending'] }))
        await store.decideRequest(r.id, 'cancelled', now);
      const t0 = now;
      const req = await requestAccess(deps, dev, {
        database: 'orders',
        level: 'read',
        duration: '10m',
        reason: 'stuck',
      });
      const tierOf = async () => (await store.getRequest(req.id))!.tier;
      expect(req.nextEscalationAt).toBe(t0 + 5 * MIN);
      expect((await code(approve(deps, req.id, secondary))).code).toBe('FORBIDDEN');
      now = t0 + 5 * MIN - 1;
      expect(await escalateDue(deps)).toBe(0);
      expect(await tierOf()).toBe(0);
      now = t0 + 5 * MIN;
      expect(await escalateDue(deps)).toBe(1);
      expect(await escalateDue(deps)).toBe(0); // once
      const escalated = notifier.events.filter((e) => e.event === 'requestEscalated' && e.view.request.id === req.id);
      expect(escalated).toHaveLength(1);
      expect(escalated[0]!.extra).toEqual([1, [expect.objectContaining({ email: secondary.email })]]);
      expect((await store.getRequest(req.id))!).toMatchObject({ tier: 1, nextEscalationAt: t0 + 15 * MIN });
      now = t0 + 15 * MIN;
      expect(await escalateDue(deps)).toBe(1);
      const atTier2 = (await store.getRequest(req.id))!;
      expect(atTier2.tier).toBe(2);
      expect(atTier2.nextEscalationAt).toBeUndefined();
      expect(atTier2.approvers.map((a) => a.email)).toEqual(
        expect.arrayContaining([primary.email, secondary.email, 'dba-lead@example.com']),
      );
      expect((await approve(deps, req.id, secondary)).status).toBe('approved');
      const audit = await store.listAudit({ requestId: req.id, type: 'request.escalated' });
      expect(audit.map((a) => a.detail.tier)).toEqual([1, 2]);
      await endGrantOf(req.id);
    });

    it('a request decided before its delay is never escalated', async () => {
      const t0 = now;
      const req = await requestAccess(deps, dev, {
        database: 'orders',
        level: 'read',
        duration: '10m',
        reason: 'quick',
      });
      await approve(deps, req.id, primary);
      now = t0 + 20 * MIN;
      await escalateDue(deps);
      expect((await store.getRequest(req.id))!.tier).toBe(0);
      expect(notifier.events.filter((e) => e.event === 'requestEscalated' && e.view.request.id === req.id)).toEqual([]);
      await endGrantOf(req.id);
    });
  });

  describe('break-glass', () => {
    it('gives a listed user access at once with a mandatory reason and a short cap, alerts, and chases the review', async () => {
      const t0 = now;
      const req = await requestAccess(
        deps,
        sre,
        { database: 'orders', level: 'write', duration: '45m', reason: 'primary is down' },
        { breakGlass: true },
      );
      expect(req).toMatchObject({ status: 'approved', breakGlass: true, reviewBy: t0 + 30 * MIN });
      expect(provisioned).toContain((await store.getGrantByRequest(req.id))!.id);
      expect(notifier.events.filter((e) => e.event === 'breakGlassUsed' && e.view.request.id === req.id)).toHaveLength(
        1,
      );
      expect((await code(reviewBreakGlass(deps, req.id, dev))).code).toBe('FORBIDDEN');
      expect((await code(reviewBreakGlass(deps, req.id, sre))).code).toBe('SELF_APPROVAL');
      now = t0 + 30 * MIN - 1;
      expect(await chaseOverdueReviews(deps)).toBe(0);
      now = t0 + 30 * MIN;
      expect(await chaseOverdueReviews(deps)).toBe(1);
      expect(await chaseOverdueReviews(deps)).toBe(0);
      expect(notifier.events.filter((e) => e.event === 'reviewOverdue' && e.view.request.id === req.id)).toHaveLength(
        1,
      );
      await reviewBreakGlass(deps, req.id, lead);
      expect((await store.getRequest(req.id))!.reviewedAt).toBe(now);
      expect((await code(reviewBreakGlass(deps, req.id, primary))).code).toBe('ALREADY_DECIDED');
      const types = (await store.listAudit({ requestId: req.id })).map((a) => a.type);
      expect(types).toEqual(
        expect.arrayContaining(['request.break_glass', 'break_glass.review_escalated', 'break_glass.reviewed']),
      );
      await endGrantOf(req.id);
    });

    it('refuses someone not on the list, a duration over the cap, and an empty reason — nothing is created', async () => {
      const before = (await store.listRequests({})).length;
      expect(
        (
          await code(
            requestAccess(
              deps,
              dev,
              { database: 'orders', level: 'read', duration: '10m', reason: 'x' },
              { breakGlass: true },
            ),
          )
        ).code,
      ).toBe('FORBIDDEN');
      expect(
        (
          await code(
            requestAccess(
              deps,
              sre,
              { database: 'orders', level: 'read', duration: '2h', reason: 'x' },
              { breakGlass: true },
            ),
          )
        ).code,
      ).toBe('DURATION_TOO_LONG');
      expect(
        (
          await code(
            requestAccess(
              deps,
              sre,
              { database: 'orders', level: 'read', duration: '10m', reason: ' ' },
              { breakGlass: true },
            ),
          )
        ).details.field,
      ).toBe('reason');
      expect(
        (
          await code(
            requestAccess(
              deps,
              sre,
              { database: 'billing', level: 'read', duration: '10m', reason: 'x' },
              { breakGlass: true },
            ),
          )
        ).message,
      ).toMatch(/no break-glass/);
      expect((await store.listRequests({})).length).toBe(before);
    });
  });

  describe('auto-approval by group membership', () => {
    it('approves someone in the Slack user group the rule names, and not someone outside it', async () => {
      const slack = await startSlackDouble();
      try {
        slack.addUser({ id: 'U0GINA', email: 'gina@example.com', name: 'gina' });
        slack.addUser({ id: 'U0HUGO', email: 'hugo@example.com', name: 'hugo' });
        slack.addUsergroup('S0SRE', ['U0GINA']);
        const people = new SlackPeople(
          new WebClient(slack.botToken, { slackApiUrl: slack.url, retryConfig: { retries: 0 } }),
          deps.clock,
        );
        const catalog = parseCatalog(
          `databases:
  - name: grp
    engine: postgres
    host: 127.0.0.1
    database: postgres
    admin: { user: postgres, password: unused }
    levels: { read: { roles: [pg_read_all_data] } }
    approval:
      approvers: [{ email: dba-lead@example.com }]
      autoApprove: [{ levels: [read], maxDuration: 30m, requesterInGroup: S0SRE, budget: 2 }]
`,
          {},
        );
        const groupDeps = { ...deps, catalog, approvers: new ApproverResolver(people, deps.clock, {}, 0) };
        const gina = { platform: 'slack' as const, id: 'U0GINA', email: 'gina@example.com' };
        const hugo = { platform: 'slack' as const, id: 'U0HUGO', email: 'hugo@example.com' };
        const yes = await requestAccess(groupDeps, gina, {
          database: 'grp',
          level: 'read',
          duration: '15m',
          reason: 'x',
        });
        expect(yes.decisionNote).toBe('auto-approved: read ≤ 30m, you are in group S0SRE (1 of 2 today)');
        const no = await requestAccess(groupDeps, hugo, {
          database: 'grp',
          level: 'read',
          duration: '15m',
          reason: 'x',
        });
        expect(no.status).toBe('pending');
        const why = (await store.listAudit({ requestId: no.id, type: 'request.created' }))[0]!.detail
          .autoApprove as string[];
        expect(why).toEqual(['rule 1: you are not in group S0SRE']);
        await endGrantOf(yes.id);
      } finally {
        await slack.stop();
      }
    });
  });

  describe('per-person limits', () => {
    it('a second request for the same level extends the live grant instead of duplicating it; over the limit is refused', async () => {
      const first = await requestAccess(deps, dev, {
        database: 'billing',
        level: 'read',
        duration: '30m',
        reason: 'a',
      });
      await approve(deps, first.id, lead);
      const grant = (await store.getGrantByRequest(first.id))!;
      await store.transitionGrant(grant.id, ['provisioning'], { status: 'active', activatedAt: now });
      const again = await requestAccess(deps, dev, {
        database: 'billing',
        level: 'read',
        duration: '15m',
        reason: 'more time',
      });
      expect(again.extendsGrantId).toBe(grant.id);
      expect(
        (await store.listGrants({ database: 'billing', statuses: ['provisioning', 'active'] })).filter(
          (g) => g.requester.id === dev.id,
        ),
      ).toHaveLength(1);
      const other = await code(
        requestAccess(deps, dev, { database: 'billing', level: 'write', duration: '15m', reason: 'b' }),
      );
      expect(other.code).toBe('FORBIDDEN');
      expect(other.message).toMatch(/limit is 1/);
      await store.decideRequest(again.id, 'cancelled', now);
      await endGrantOf(first.id);
    });
  });

  describe('responders of a live incident (whenResponding)', () => {
    const ask = (who: Actor, incident?: string, level = 'read') =>
      requestAccess(deps, who, {
        database: 'payments',
        level,
        duration: '30m',
        reason: 'payments failing',
        ...(incident && { incident }),
      });
    const createdNotes = async (requestId: number) =>
      (await store.listAudit({ requestId: rid(requestId), type: 'request.created' }))[0]!.detail
        .autoApprove as string[];

    it('an assignee is approved at once, audited with the rule and the incident, told in the incident channel; the grant ends when it resolves', async () => {
      pd.setIncident('PRESP01', {
        status: 'triggered',
        title: 'payments 500s',
        assignees: [{ email: dev.email! }],
        conferenceUrl: 'https://acme.slack.com/archives/C0INCPAY',
      });
      const req = await ask(dev, 'PRESP01');
      expect(req.status).toBe('approved');
      expect(req.incidentId).toBe('PRESP01');
      expect(req.decisionNote).toBe('auto-approved: read ≤ 1h, you are responding to incident PRESP01 (1 of 2 today)');
      const audit = (await store.listAudit({ requestId: req.id, type: 'request.auto_approved' }))[0]!;
      expect(audit.detail).toMatchObject({ rule: 1, respondingTo: 'PRESP01', incident: 'PRESP01' });
      const line = notifier.events.find((e) => e.event === 'incidentAccessGranted' && e.view.request.id === req.id);
      expect(line?.extra).toEqual(['C0INCPAY']);

      const grant = (await store.getGrantByRequest(req.id))!;
      await store.transitionGrant(grant.id, ['provisioning'], { status: 'active', activatedAt: now });
      expect(await endResolvedIncidents(deps)).toBe(0);
      pd.setIncident('PRESP01', { status: 'resolved' });
      expect(await endResolvedIncidents(deps)).toBe(1);
      const ended = (await store.getGrant(grant.id))!;
      expect(ended.endKind).toBe('incident_resolved');
    });

    it('an acknowledger counts too; no line is posted when the incident links no Slack channel', async () => {
      pd.setIncident('PRESP02', {
        status: 'acknowledged',
        assignees: [{ email: 'someone@example.com' }],
        acknowledgers: [{ email: opsOnCall.email! }],
      });
      const req = await ask(opsOnCall, 'https://acme.pagerduty.com/incidents/PRESP02');
      expect(req.status).toBe('approved');
      expect(notifier.events.some((e) => e.event === 'incidentAccessGranted' && e.view.request.id === req.id)).toBe(
        false,
      );
      await endGrantOf(req.id);
    });

    it("someone else's incident, no incident at all, or a level the rule does not cover goes to approvers, saying why", async () => {
      pd.setIncident('PRESP03', { status: 'triggered', assignees: [{ email: primary.email! }] });
      const notMine = await ask(dev, 'PRESP03');
      expect(notMine.status).toBe('pending');
      expect(notMine.incidentId).toBe('PRESP03'); // still scoped: it ends with the incident if approved
      expect(await createdNotes(notMine.id)).toEqual([
        'rule 1: you are not assigned to incident PRESP03 and have not acknowledged it',
      ]);
      const none = await ask(dev);
      expect(await createdNotes(none.id)).toEqual(['rule 1: no incident is named in the request']);
      const write = await ask(primary, 'PRESP03', 'write');
      expect(write.status).toBe('pending');
      expect(await createdNotes(write.id)).toEqual(['rule 1: level write is not one of read']);
      expect(await store.listAudit({ type: 'request.auto_approved', since: now - 1 })).toHaveLength(0);
      for (const r of [notMine, none, write]) await store.decideRequest(r.id, 'cancelled', now);
    });

    it('PagerDuty down: not auto-approved (fail closed) — the request goes to approvers, still scoped, and says why', async () => {
      pd.setIncident('PRESP04', { status: 'triggered', assignees: [{ email: dev.email! }] });
      pd.failNext('/incidents/*', { status: 503 }, { times: 8 });
      const req = await ask(dev, 'PRESP04');
      expect(req.status).toBe('pending');
      expect(req.incidentId).toBe('PRESP04');
      const notes = await createdNotes(req.id);
      expect(notes[0]).toMatch(/^incident PRESP04 could not be read: PagerDuty incident PRESP04: .*HTTP 503/);
      expect(notes[1]).toMatch(/^rule 1: incident PRESP04 could not be checked/);
      await store.decideRequest(req.id, 'cancelled', now);
    });

    it('an Opsgenie alert works the same way: its owner is approved and loses access when it closes; others go to approvers', async () => {
      const alert = og.setAlert({ message: 'payments 500s', status: 'open', owner: dev.email! });
      const req = await ask(dev, `og:${alert.id}`);
      expect(req.status).toBe('approved');
      expect(req.incidentId).toBe(`og:${alert.id}`);
      expect(req.decisionNote).toContain(`you are responding to incident og:${alert.id}`);
      const other = await ask(primary, `og:${alert.id}`);
      expect(other.status).toBe('pending');
      expect(await createdNotes(other.id)).toEqual([
        `rule 1: you are not assigned to incident og:${alert.id} and have not acknowledged it`,
      ]);
      await store.decideRequest(other.id, 'cancelled', now);
      const grant = (await store.getGrantByRequest(req.id))!;
      await store.transitionGrant(grant.id, ['provisioning'], { status: 'active', activatedAt: now });
      expect(await endResolvedIncidents(deps)).toBe(0);
      og.setAlert({ id: alert.id, status: 'closed' });
      expect(await endResolvedIncidents(deps)).toBe(1);
      expect((await store.getGrant(grant.id))!.endKind).toBe('incident_resolved');
    });

    describe('named by its number: INC-<n>', () => {
      const askTicket = (who: Actor, ticket: string, incident?: string) =>
        requestAccess(deps, who, {
          database: 'payments',
          level: 'read',
          duration: '30m',
          reason: 'payments failing',
          ticket,
          ...(incident && { incident }),
        });

      it("resolves to the requester's open PagerDuty incident with that incident_number (any case): approved, scoped, ended when it resolves", async () => {
        pd.setIncident('PNUM701', { status: 'triggered', number: 7001, assignees: [{ email: dev.email! }] });
        const req = await askTicket(dev, 'inc-7001');
        expect(req.status).toBe('approved');
        expect(req.incidentId).toBe('PNUM701');
        expect(req.ticket).toBe('inc-7001');
        expect(req.decisionNote).toMatch(/^auto-approved: read ≤ 1h, you are responding to incident PNUM701 /);
        const audit = (await store.listAudit({ requestId: req.id, type: 'request.auto_approved' }))[0]!;
        expect(audit.detail).toMatchObject({ rule: 1, respondingTo: 'PNUM701', incident: 'PNUM701' });
        const grant = (await store.getGrantByRequest(req.id))!;
        await store.transitionGrant(grant.id, ['provisioning'], { status: 'active', activatedAt: now });
        pd.setIncident('PNUM701', { status: 'resolved' });
        expect(await endResolvedIncidents(deps)).toBe(1);
        expect((await store.getGrant(grant.id))!.endKind).toBe('incident_resolved');
      });

      it("a number that is someone else's incident scopes nothing and is not auto-approved; the approvers decide, told why", async () => {
        pd.setIncident('PNUM702', { status: 'triggered', number: 7002, assignees: [{ email: primary.email! }] });
        const req = await askTicket(dev, 'INC-7002');
        expect(req.status).toBe('pending');
        expect(req.incidentId).toBeUndefined();
        expect(req.ticket).toBe('INC-7002');
        expect(req.autoApproveNotes).toEqual(['rule 1: INC-7002 is not the number of any open incident of yours']);
        expect(await createdNotes(req.id)).toEqual([
          'rule 1: INC-7002 is not the number of any open incident of yours',
        ]);
        expect((await store.listAudit({ requestId: req.id, type: 'request.created' }))[0]!.detail.incident).toBeNull();
        // Its owner, naming the same number, is approved.
        const theirs = await askTicket(primary, 'INC-7002');
        expect(theirs.status).toBe('approved');
        expect(theirs.incidentId).toBe('PNUM702');
        await store.decideRequest(req.id, 'cancelled', now);
        await endGrantOf(theirs.id);
      });

      it("an Opsgenie alert's tinyId counts the same way; a number two of one's incidents share names neither", async () => {
        const alert = og.setAlert({ message: 'checkout slow', status: 'open', owner: dev.email!, tinyId: '7003' });
        const req = await askTicket(dev, 'INC-7003');
        expect(req.status).toBe('approved');
        expect(req.incidentId).toBe(`og:${alert.id}`);
        await endGrantOf(req.id);
        og.setAlert({ id: alert.id, status: 'closed' });

        pd.setIncident('PNUM704', { status: 'triggered', number: 7004, assignees: [{ email: dev.email! }] });
        const twin = og.setAlert({ status: 'open', owner: dev.email!, tinyId: '7004' });
        const both = await askTicket(dev, 'INC-7004');
        expect(both.status).toBe('pending');
        expect(both.incidentId).toBeUndefined();
        expect(await createdNotes(both.id)).toEqual([
          `rule 1: INC-7004 is the number of more than one of your open incidents (PNUM704, og:${twin.id}); name one as pd:<id> or og:<alert id>`,
        ]);
        await store.decideRequest(both.id, 'cancelled', now);
        // An incident named by id wins over the ticket's number.
        const named = await askTicket(dev, 'INC-7004', 'PNUM704');
        expect(named.status).toBe('approved');
        expect(named.incidentId).toBe('PNUM704');
        await endGrantOf(named.id);
        og.setAlert({ id: twin.id, status: 'closed' });
        pd.setIncident('PNUM704', { status: 'resolved' });
      });

      it("one source down and the number not in the other's list: could not be matched, naming the failure (it may be the missing source's)", async () => {
        pd.setIncident('PNUM706', { status: 'triggered', number: 7006, assignees: [{ email: dev.email! }] });
        pd.failNext('/incidents', { status: 503 }, { times: 8 });
        const req = await askTicket(dev, 'INC-7006');
        pd.clearFaults();
        expect(req.status).toBe('pending');
        expect(req.incidentId).toBeUndefined();
        expect(await createdNotes(req.id)).toEqual([
          expect.stringMatching(/^rule 1: INC-7006 could not be matched to your open incidents \(.*HTTP 503/),
        ]);
        await store.decideRequest(req.id, 'cancelled', now);
        // Both answering, the same number is found.
        const again = await askTicket(dev, 'INC-7006');
        expect(again.status).toBe('approved');
        expect(again.incidentId).toBe('PNUM706');
        await endGrantOf(again.id);
        pd.setIncident('PNUM706', { status: 'resolved' });
      });

      it('both sources down: scoped to nothing, not auto-approved (fail closed), and the reason names the failure', async () => {
        pd.setIncident('PNUM705', { status: 'triggered', number: 7005, assignees: [{ email: dev.email! }] });
        pd.failNext('/incidents', { status: 503 }, { times: 8 });
        og.failNext('/v2/alerts', { status: 503 }, { times: 8 });
        const req = await askTicket(dev, 'INC-7005');
        og.clearFaults();
        expect(req.status).toBe('pending');
        expect(req.incidentId).toBeUndefined();
        const notes = await createdNotes(req.id);
        expect(notes).toHaveLength(1);
        expect(notes[0]).toMatch(/^rule 1: INC-7005 could not be matched to your open incidents \(.*HTTP 503/);
        await store.decideRequest(req.id, 'cancelled', now);
        pd.setIncident('PNUM705', { status: 'resolved' });
      });
    });

    it('a resolved or unknown incident is refused up front; per-person limits and the daily budget still apply', async () => {
      pd.setIncident('PRESP05', { status: 'resolved', assignees: [{ email: dev.email! }] });
      expect((await code(ask(dev, 'PRESP05'))).details.field).toBe('incident');
      expect((await code(ask(dev, 'PNOSUCH1'))).message).toMatch(/could not be read: .*HTTP 404/);

      pd.setIncident('PRESP06', { status: 'triggered', assignees: [{ email: dev.email! }] });
      const first = await ask(dev, 'PRESP06');
      expect(first.status).toBe('approved');
      // activeGrantsPerPerson is 1 on payments: a second live grant is refused, responder or not.
      const over = await code(ask(dev, 'PRESP06', 'write'));
      expect(over.message).toMatch(/limit is 1/);
      await endGrantOf(first.id);
      const second = await ask(dev, 'PRESP06');
      expect(second.status).toBe('approved');
      await endGrantOf(second.id);
      const third = await ask(dev, 'PRESP06');
      expect(third.status).toBe('pending');
      expect(await createdNotes(third.id)).toEqual([
        'rule 1: daily auto-approval budget used (2 of 2 in the last 24 h)',
      ]);
      await store.decideRequest(third.id, 'cancelled', now);
    });
  });

  describe('incident-scoped access', () => {
    it('a grant tied to a PagerDuty incident ends when the incident resolves; a resolved incident is refused up front', async () => {
      pd.setIncident('PINC0001', { status: 'triggered', title: 'orders stuck' });
      pd.setIncident('PINC0002', { status: 'resolved', title: 'old' });
      expect(
        (
          await code(
            requestAccess(deps, primary, {
              database: 'orders',
              level: 'read',
              duration: '30m',
              reason: 'x',
              incident: 'PINC0002',
            }),
          )
        ).details.field,
      ).toBe('incident');
      const req = await requestAccess(deps, primary, {
        database: 'orders',
        level: 'read',
        duration: '30m',
        reason: 'x',
        incident: 'https://acme.pagerduty.com/incidents/PINC0001',
      });
      expect(req.incidentId).toBe('PINC0001');
      const grant = (await store.getGrantByRequest(req.id))!;
      await store.transitionGrant(grant.id, ['provisioning'], { status: 'active', activatedAt: now });
      expect(await endResolvedIncidents(deps)).toBe(0);
      expect((await store.getGrant(grant.id))!.status).toBe('active');
      pd.setIncident('PINC0001', { status: 'resolved', title: 'orders stuck' });
      expect(await endResolvedIncidents(deps)).toBe(1);
      const ended = (await store.getGrant(grant.id))!;
      expect(ended.status).toBe('revoked');
      expect(ended.endReason).toBe('incident PINC0001 resolved');
      expect(ended.endKind).toBe('incident_resolved');
      expect(ended.revokedAt).toBeLessThan(grant.expiresAt);
    });
  });
});
