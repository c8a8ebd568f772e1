/**
 * The real PagerDuty and Opsgenie clients against the local doubles of their APIs (dev/oncall/*-double.ts): pagination,
 * email resolution, escalation levels, 429 Retry-After, 5xx retries, auth failures, the TTL cache, incidents, and
 * who was on call at a given moment (PagerDuty since/until, Opsgenie date) against shifts seeded in the doubles.
 * Waits are measured with the timestamps the doubles record, never with sleeps in the test.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOpsgenieDouble, type OpsgenieDouble } from '../../dev/oncall/opsgenie-double.js';
import { startPagerDutyDouble, type PagerDutyDouble, type PdRequest } from '../../dev/oncall/pagerduty-double.js';
import { OpsgenieClient, type OpsgenieClientOptions } from '../../src/oncall/opsgenie.js';
import { PagerDutyClient, type PagerDutyClientOptions } from '../../src/oncall/pagerduty.js';
import { OnCallError } from '../../src/oncall/sources.js';

const ALICE = { email: 'alice@example.com', name: 'Alice Doe' };
const BOB = { email: 'bob@example.com', name: 'Bob Roe' };
const CAROL = { email: 'carol@example.com', name: 'Carol Poe' };
const MIN = 60_000;
const HOUR = 60 * MIN;

class FakeClock {
  constructor(public t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
}

async function rejection(p: Promise<unknown>): Promise<OnCallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OnCallError);
  return err as OnCallError;
}

describe('PagerDutyClient against the PagerDuty double', () => {
  let pd: PagerDutyDouble;
  const client = (opts: Partial<PagerDutyClientOptions> = {}): PagerDutyClient =>
    new PagerDutyClient({ token: pd.token, apiUrl: pd.url, backoffMs: 20, ...opts });
  const oncallRequests = (): PdRequest[] => pd.requests.filter((r) => r.path === '/oncalls');

  beforeEach(async () => {
    pd = await startPagerDutyDouble({ pageSize: 2 });
  });
  const restartWith = async (opts: Parameters<typeof startPagerDutyDouble>[0]) => {
    await pd.stop();
    return startPagerDutyDouble(opts);
  };
  afterEach(async () => {
    await pd.stop();
  });

  it('follows more/offset across pages, embeds emails via include[]=users and deduplicates people', async () => {
    // 3 people × 2 escalation policies = 6 entries = 3 pages of 2; each person appears twice.
    pd.setOnCall('PSCHED1', [ALICE, BOB, CAROL], { escalationPolicyIds: ['PEP1', 'PEP2'] });
    pd.setOnCall('POTHER', [{ email: 'zed@example.com' }]);

    const people = await client().scheduleOnCall('PSCHED1');

    expect(people).toEqual([ALICE, BOB, CAROL]);
    const reqs = oncallRequests();
    expect(reqs.map((r) => r.query.offset?.[0])).toEqual(['0', '2', '4']);
    for (const r of reqs) {
      expect(r.status).toBe(200);
      expect(r.query['schedule_ids[]']).toEqual(['PSCHED1']);
      expect(r.query.earliest).toEqual(['true']);
      expect(r.query['include[]']).toEqual(['users']);
      expect(r.authorization).toBe(`Token token=${pd.token}`);
      expect(r.accept).toBe('application/vnd.pagerduty+json;version=2');
    }
    expect(pd.requests.filter((r) => r.path.startsWith('/users/'))).toHaveLength(0);
  });

  it('resolves emails with GET /users/{id} when the on-calls carry only user references', async () => {
    await pd.stop();
    pd = await startPagerDutyDouble({ pageSize: 2, expandIncludes: false });
    pd.setOnCall('PSCHED1', [ALICE, BOB, CAROL], { escalationPolicyIds: ['PEP1', 'PEP2'] });

    const people = await client().scheduleOnCall('PSCHED1');

    expect(people).toEqual([ALICE, BOB, CAROL]);
    const userReqs = pd.requests.filter((r) => r.path.startsWith('/users/'));
    expect(userReqs).toHaveLength(3); // one per distinct user, not one per entry
    expect(userReqs.every((r) => r.status === 200)).toBe(true);
  });

  it('returns only the people at the asked escalation level; one fetch serves every level of a policy', async () => {
    pd.setEscalationLevel('PEP1', 1, [ALICE]);
    pd.setEscalationLevel('PEP1', 2, [BOB, CAROL], { scheduleId: 'PSECONDARY' });
    pd.setEscalationLevel('PEP9', 2, [{ email: 'other@example.com' }]);
    const c = client();

    expect(await c.escalationPolicyOnCall('PEP1', 2)).toEqual([BOB, CAROL]);
    expect(await c.escalationPolicyOnCall('PEP1', 1)).toEqual([ALICE]);
    expect(await c.escalationPolicyOnCall('PEP1', 3)).toEqual([]);

    const reqs = oncallRequests();
    expect(reqs.map((r) => r.query.offset?.[0])).toEqual(['0', '2']); // 3 entries, 2 pages, fetched once
    expect(reqs.every((r) => r.query['escalation_policy_ids[]']?.[0] === 'PEP1')).toBe(true);
  });

  it('waits out a 429 Retry-After, then succeeds', async () => {
    pd.setOnCall('PSCHED1', [ALICE]);
    pd.failNext('/oncalls', { status: 429, retryAfterSeconds: 1 });

    expect(await client().scheduleOnCall('PSCHED1')).toEqual([ALICE]);

    const [limited, retried] = oncallRequests();
    expect(limited?.status).toBe(429);
    expect(limited?.injected).toBe(true);
    expect(retried?.status).toBe(200);
    expect(retried!.at - limited!.respondedAt).toBeGreaterThanOrEqual(1000);
  });

  it('fails at once when Retry-After is longer than it is willing to wait', async () => {
    pd.setOnCall('PSCHED1', [ALICE]);
    pd.failNext('/oncalls', { status: 429, retryAfterSeconds: 60 });

    const err = await rejection(client({ maxWaitMs: 5_000 }).scheduleOnCall('PSCHED1'));

    expect(err.source).toBe('PagerDuty schedule PSCHED1');
    expect(err.message).toMatch(/rate limited .*429.*wait 60 s/);
    expect(oncallRequests()).toHaveLength(1);
  });

  it('retries a 5xx and succeeds', async () => {
    pd.setOnCall('PSCHED1', [ALICE, BOB]);
    pd.failNext({ status: 502 }, { times: 2 }); // no path: any request

    expect(await client().scheduleOnCall('PSCHED1')).toEqual([ALICE, BOB]);
    expect(oncallRequests().map((r) => r.status)).toEqual([502, 502, 200]);

    pd.failNext({ status: 500 }, { times: 5 });
    pd.clearFaults();
    expect(
      await client()
        .incident('QNONE')
        .catch((e: unknown) => e),
    ).toBeInstanceOf(OnCallError);
    expect(pd.requests.at(-1)).toMatchObject({ path: '/incidents/QNONE', status: 404, injected: false });
  });

  it('gives up on a persistent 5xx with an OnCallError naming the source, without the token', async () => {
    pd.setOnCall('PSCHED1', [ALICE]);
    pd.failNext('/oncalls', { status: 503 }, { times: 10 });

    const err = await rejection(client({ maxRetries: 2 }).scheduleOnCall('PSCHED1'));

    expect(err.source).toBe('PagerDuty schedule PSCHED1');
    expect(err.message).toMatch(/^PagerDuty schedule PSCHED1: GET \/oncalls: HTTP 503 .*gave up after 3 attempts/);
    expect(err.message).not.toContain(pd.token);
    expect(oncallRequests()).toHaveLength(3);
  });

  it('reports a rejected token as an OnCallError (401), without retrying and without the token', async () => {
    pd.setOnCall('PSCHED1', [ALICE]);
    const badToken = 'u+wrong-token-value';

    const err = await rejection(client({ token: badToken }).scheduleOnCall('PSCHED1'));

    expect(err.message).toContain('HTTP 401');
    expect(err.message).toContain('token was rejected');
    expect(err.message).not.toContain(badToken);
    expect(oncallRequests()).toHaveLength(1);
    expect(oncallRequests()[0]?.authorization).toBe(`Token token=${badToken}`);
  });

  it('times out a slow answer, retries, and reports it', async () => {
    pd.setOnCall('PSCHED1', [ALICE]);
    pd.setLatency('/oncalls', 400);

    const err = await rejection(client({ timeoutMs: 100, maxRetries: 1 }).scheduleOnCall('PSCHED1'));

    expect(err.message).toMatch(/no answer within 100 ms \(gave up after 2 attempts\)/);
    expect(oncallRequests()).toHaveLength(2);
  });

  it('serves a repeated query from the cache within the TTL and asks again after it', async () => {
    const clock = new FakeClock();
    const c = client({ clock, ttlMs: 30_000 });
    pd.setOnCall('PSCHED1', [ALICE]);

    expect(await c.scheduleOnCall('PSCHED1')).toEqual([ALICE]);
    pd.setOnCall('PSCHED1', [BOB]);
    clock.t += 29_999;
    expect(await c.scheduleOnCall('PSCHED1')).toEqual([ALICE]);
    expect(oncallRequests()).toHaveLength(1);

    clock.t += 1;
    expect(await c.scheduleOnCall('PSCHED1')).toEqual([BOB]);
    expect(oncallRequests()).toHaveLength(2);
  });

  it('shares one request between concurrent identical queries', async () => {
    pd.setOnCall('PSCHED1', [ALICE]);
    pd.setLatency('/oncalls', 50);
    const c = client();

    const [a, b] = await Promise.all([c.scheduleOnCall('PSCHED1'), c.scheduleOnCall('PSCHED1')]);

    expect(a).toEqual([ALICE]);
    expect(b).toEqual([ALICE]);
    expect(oncallRequests()).toHaveLength(1);
  });

  it('asks who was on call at a moment with since = until = that second, and caches it apart from now', async () => {
    const clock = new FakeClock(Date.UTC(2026, 11, 7, 12, 0, 0));
    const t0 = clock.t;
    await pd.stop();
    pd = await startPagerDutyDouble({ pageSize: 2, clock });
    pd.addShift('PSCHED1', [ALICE], { start: t0 - 8 * HOUR, end: t0 + 5 * MIN }); // hands over at 12:05
    pd.addShift('PSCHED1', [BOB], { start: t0 + 5 * MIN, end: t0 + 8 * HOUR });
    const c = client({ clock, ttlMs: 30_000 });
    clock.t = t0 + 10 * MIN;

    expect(await c.scheduleOnCall('PSCHED1')).toEqual([BOB]);
    expect(await c.scheduleOnCall('PSCHED1', t0 + MIN + 750)).toEqual([ALICE]);
    expect(await c.scheduleOnCall('PSCHED1', t0 + 5 * MIN)).toEqual([BOB]); // the hand-off second belongs to the next shift
    expect(oncallRequests().map((r) => [r.query.since, r.query.until])).toEqual([
      [undefined, undefined],
      [['2026-12-07T12:01:00Z'], ['2026-12-07T12:01:00Z']],
      [['2026-12-07T12:05:00Z'], ['2026-12-07T12:05:00Z']],
    ]);

    // Within the TTL each is served from its own entry: "now" never answers for a moment, nor the reverse.
    expect(await c.scheduleOnCall('PSCHED1', t0 + MIN + 10)).toEqual([ALICE]); // same second
    expect(await c.scheduleOnCall('PSCHED1')).toEqual([BOB]);
    expect(oncallRequests()).toHaveLength(3);
    expect(await c.scheduleOnCall('PSCHED1', t0 + 2 * MIN)).toEqual([ALICE]);
    expect(oncallRequests()).toHaveLength(4);
  });

  it('asks an escalation-policy level at a moment too', async () => {
    const clock = new FakeClock(Date.UTC(2026, 11, 7, 12, 0, 0));
    const t0 = clock.t;
    await pd.stop();
    pd = await startPagerDutyDouble({ clock });
    pd.addShift('PSCHED1', [ALICE], { start: t0 - HOUR, end: t0 + 5 * MIN, escalationPolicyIds: ['PEP1'], level: 2 });
    pd.addShift('PSCHED1', [CAROL], { start: t0 + 5 * MIN, end: t0 + HOUR, escalationPolicyIds: ['PEP1'], level: 2 });
    pd.setEscalationLevel('PEP1', 1, [BOB]);
    const c = client({ clock });
    clock.t = t0 + 10 * MIN;

    expect(await c.escalationPolicyOnCall('PEP1', 2)).toEqual([CAROL]);
    expect(await c.escalationPolicyOnCall('PEP1', 2, t0 + MIN)).toEqual([ALICE]);
    expect(await c.escalationPolicyOnCall('PEP1', 1, t0 + MIN)).toEqual([BOB]); // a permanent on-call is on call at every time
    expect(oncallRequests().at(-1)?.query).toMatchObject({
      'escalation_policy_ids[]': ['PEP1'],
      since: ['2026-12-07T12:01:00Z'],
      until: ['2026-12-07T12:01:00Z'],
    });
  });

  it('reads an incident fresh while open, so a resolution mid-grant is seen at once', async () => {
    const clock = new FakeClock();
    const c = client({ clock });
    pd.setIncident('Q1ABC', { status: 'triggered', title: 'orders-db replica lag', number: 4211 });

    expect(await c.incident('Q1ABC')).toEqual({
      id: 'Q1ABC',
      status: 'triggered',
      title: 'orders-db replica lag',
      url: 'https://example.pagerduty.com/incidents/Q1ABC',
      number: 4211,
      responders: [],
    });
    pd.setIncident('Q1ABC', { status: 'resolved' });
    expect((await c.incident('Q1ABC')).status).toBe('resolved');
    expect((await c.incident('Q1ABC')).status).toBe('resolved'); // resolved is final: cached
    expect(pd.requests.filter((r) => r.path === '/incidents/Q1ABC')).toHaveLength(2);

    const err = await rejection(c.incident('QNOPE'));
    expect(err.source).toBe('PagerDuty incident QNOPE');
    expect(err.message).toContain('HTTP 404');
    expect(err.notFound).toBe(true);
    pd.failNext('/incidents/*', { status: 503 }, { times: 10 });
    const down = await rejection(client({ maxRetries: 0 }).incident('Q1ABC'));
    expect(down.notFound).toBe(false);
  });

  it("an incident's responders are its assignees and acknowledgers by email; a Slack link as its bridge names the channel", async () => {
    pd = await restartWith({ pageSize: 2, expandIncludes: false }); // references only: emails come from /users/{id}
    pd.setIncident('Q2DEF', {
      status: 'acknowledged',
      assignees: [ALICE, BOB],
      acknowledgers: [CAROL],
      conferenceUrl: 'https://acme.slack.com/archives/C0INC42',
    });
    const c = client();
    const info = await c.incident('Q2DEF');
    expect(info.responders).toEqual(['alice@example.com', 'bob@example.com', 'carol@example.com']);
    expect(info.slackChannel).toBe('C0INC42');
    const read = pd.requests.find((r) => r.path === '/incidents/Q2DEF')!;
    expect(read.query['include[]']).toEqual(['assignees', 'acknowledgers']);
    expect(pd.requests.filter((r) => r.path.startsWith('/users/')).length).toBe(3);

    pd.setIncident('Q2DEF', { status: 'triggered', conferenceUrl: 'https://zoom.example.com/j/1' });
    const triggered = await c.incident('Q2DEF');
    expect(triggered.responders).toEqual(['alice@example.com', 'bob@example.com']); // no acknowledgements yet
    expect(triggered.slackChannel).toBeUndefined();
    pd.setIncident('Q2DEF', { status: 'resolved' });
    expect((await c.incident('Q2DEF')).responders).toEqual([]);
  });

  it("a person's open incidents: their user by email, then the incidents assigned to them, page by page", async () => {
    pd.addUser({ email: 'malice@example.com' }); // contains the query, is not the person
    pd.setIncident('Q1', { status: 'triggered', assignees: [ALICE] });
    pd.setIncident('Q2', { status: 'acknowledged', assignees: [ALICE, BOB], acknowledgers: [ALICE] });
    pd.setIncident('Q3', { status: 'triggered', assignees: [ALICE] });
    pd.setIncident('Q4', { status: 'resolved', assignees: [ALICE] });
    pd.setIncident('Q5', { status: 'triggered', assignees: [BOB] });
    const mine = await client().openIncidentsOf('ALICE@example.com');
    expect(mine.map((i) => i.id)).toEqual(['Q1', 'Q2', 'Q3']);
    const list = pd.requests.filter((r) => r.path === '/incidents');
    expect(list.map((r) => r.query.offset?.[0])).toEqual(['0', '2']);
    expect(list[0]!.query['statuses[]']).toEqual(['triggered', 'acknowledged']);
    expect(list[0]!.query['user_ids[]']).toHaveLength(1);
    expect(pd.requests.find((r) => r.path === '/users')!.query.query).toEqual(['alice@example.com']);
    expect(await client().openIncidentsOf('nobody@example.com')).toEqual([]);
  });
});

describe('OpsgenieClient against the Opsgenie double', () => {
  let og: OpsgenieDouble;
  const client = (opts: Partial<OpsgenieClientOptions> = {}): OpsgenieClient =>
    new OpsgenieClient({ apiKey: og.apiKey, apiUrl: og.url, backoffMs: 20, ...opts });

  beforeEach(async () => {
    og = await startOpsgenieDouble();
  });
  afterEach(async () => {
    await og.stop();
  });

  it('asks by name (the default) with flat=true and the GenieKey header', async () => {
    og.setOnCall('DB Primary', [ALICE.email, 'Bob@Example.com', 'bob@example.com']);

    expect(await client().scheduleOnCall('DB Primary')).toEqual([{ email: ALICE.email }, { email: 'Bob@Example.com' }]);

    const [r] = og.requests;
    expect(r?.path).toBe('/v2/schedules/DB Primary/on-calls');
    expect(r?.query).toEqual({ scheduleIdentifierType: ['name'], flat: ['true'] });
    expect(r?.authorization).toBe(`GenieKey ${og.apiKey}`);
  });

  it('asks by id when the identifier looks like a UUID', async () => {
    const schedule = og.setOnCall('DB Secondary', [BOB]);

    expect(await client().scheduleOnCall(schedule.id)).toEqual([{ email: BOB.email }]);
    expect(og.requests[0]?.query.scheduleIdentifierType).toEqual(['id']);
    expect(og.requests[0]?.path).toBe(`/v2/schedules/${schedule.id}/on-calls`);
  });

  it('waits out a 429 Retry-After, then succeeds', async () => {
    og.setOnCall('DB Primary', [ALICE]);
    og.failNext('*', { status: 429, retryAfterSeconds: 1 });

    expect(await client().scheduleOnCall('DB Primary')).toEqual([{ email: ALICE.email }]);

    const [limited, retried] = og.requests;
    expect(limited?.status).toBe(429);
    expect(retried?.status).toBe(200);
    expect(retried!.at - limited!.respondedAt).toBeGreaterThanOrEqual(1000);
  });

  it('retries a 5xx; a persistent one is an OnCallError naming the schedule, without the key', async () => {
    og.setOnCall('DB Primary', [ALICE]);
    og.failNext('*', { status: 500 });
    expect(await client().scheduleOnCall('DB Primary')).toEqual([{ email: ALICE.email }]);
    expect(og.requests.map((r) => r.status)).toEqual([500, 200]);

    og.failNext('*', { status: 503 }, { times: 10 });
    const err = await rejection(client({ maxRetries: 1 }).scheduleOnCall('DB Primary'));
    expect(err.source).toBe('Opsgenie schedule DB Primary');
    expect(err.message).toMatch(/HTTP 503 .*gave up after 2 attempts/);
    expect(err.message).not.toContain(og.apiKey);
  });

  it('reports a rejected key (401) and an unknown schedule (404) as OnCallErrors', async () => {
    og.setOnCall('DB Primary', [ALICE]);
    const badKey = 'eb24alp-wrong-key';

    const unauth = await rejection(client({ apiKey: badKey }).scheduleOnCall('DB Primary'));
    expect(unauth.message).toContain('HTTP 401');
    expect(unauth.message).not.toContain(badKey);
    expect(og.requests).toHaveLength(1);

    const missing = await rejection(client().scheduleOnCall('No Such Schedule'));
    expect(missing.source).toBe('Opsgenie schedule No Such Schedule');
    expect(missing.message).toContain('HTTP 404');
  });

  it('serves a repeated query from the cache within the TTL', async () => {
    const clock = new FakeClock();
    const c = client({ clock, ttlMs: 10_000 });
    og.setOnCall('DB Primary', [ALICE]);

    await c.scheduleOnCall('DB Primary');
    clock.t += 9_999;
    await c.scheduleOnCall('DB Primary');
    expect(og.requests).toHaveLength(1);

    og.setOnCall('DB Primary', [BOB]);
    clock.t += 1;
    expect(await c.scheduleOnCall('DB Primary')).toEqual([{ email: BOB.email }]);
    expect(og.requests).toHaveLength(2);
  });

  it('asks who was on call at a moment with date= (whole seconds, UTC offset), and caches it apart from now', async () => {
    const clock = new FakeClock(Date.UTC(2026, 11, 7, 12, 0, 0));
    const t0 = clock.t;
    await og.stop();
    og = await startOpsgenieDouble({ clock });
    og.addShift('DB Primary', [ALICE], { start: t0 - 8 * HOUR, end: t0 + 5 * MIN });
    og.addShift('DB Primary', [BOB], { start: t0 + 5 * MIN, end: t0 + 8 * HOUR });
    const c = client({ clock, ttlMs: 30_000 });
    clock.t = t0 + 10 * MIN;

    expect(await c.scheduleOnCall('DB Primary')).toEqual([{ email: BOB.email }]);
    expect(await c.scheduleOnCall('DB Primary', t0 + MIN + 750)).toEqual([{ email: ALICE.email }]);
    expect(og.requests.map((r) => r.query.date)).toEqual([undefined, ['2026-12-07T12:01:00+00:00']]);
    expect(await c.scheduleOnCall('DB Primary', t0 + MIN)).toEqual([{ email: ALICE.email }]);
    expect(await c.scheduleOnCall('DB Primary')).toEqual([{ email: BOB.email }]);
    expect(og.requests).toHaveLength(2);

    // The double reads `date` as Opsgenie documents it: an unencoded "+" arrives as a space and is refused.
    const raw = await fetch(
      `${og.url}/v2/schedules/DB%20Primary/on-calls?scheduleIdentifierType=name&date=2026-12-07T12:01:00+00:00`,
      {
        headers: { Authorization: `GenieKey ${og.apiKey}` },
      },
    );
    expect(raw.status).toBe(422);
  });

  it("an alert's responders are its owner, its acknowledger and its user responders; a person's open alerts are those they own", async () => {
    const a = og.setAlert({
      message: 'payments 500s',
      status: 'open',
      acknowledged: true,
      owner: ALICE.email,
      acknowledgedBy: BOB.email,
      responders: [CAROL.email],
    });
    og.setAlert({ message: 'not hers', status: 'open', owner: BOB.email });
    og.setAlert({ message: 'over', status: 'closed', owner: ALICE.email });
    const c = client();
    const info = await c.alert(a.id);
    expect(info).toEqual({
      id: `og:${a.id}`,
      status: 'acknowledged',
      title: 'payments 500s',
      url: '',
      number: Number(a.tinyId),
      responders: ['alice@example.com', 'bob@example.com', 'carol@example.com'],
    });
    expect(og.requests.find((r) => r.path === `/v2/alerts/${a.id}`)?.query.identifierType).toEqual(['id']);
    expect(og.requests.filter((r) => r.path.startsWith('/v2/users/'))).toHaveLength(1);

    const mine = await c.openAlertsOf('Alice@Example.com');
    expect(mine.map((i) => [i.id, i.title, i.number])).toEqual([[`og:${a.id}`, 'payments 500s', Number(a.tinyId)]]);
    expect(og.requests.find((r) => r.path === '/v2/alerts')?.query.query).toEqual([
      'status:open AND owner:"alice@example.com"',
    ]);

    og.setAlert({ id: a.id, status: 'closed' });
    expect(await c.alert(a.id)).toMatchObject({ status: 'resolved', responders: [] });
    const missing = await rejection(c.alert('0000-nope'));
    expect(missing.notFound).toBe(true);
    og.failNext('/v2/alerts/*', { status: 503 }, { times: 10 });
    const down = await rejection(client({ maxRetries: 0 }).alert(a.id));
    expect(down.notFound).toBe(false);
    expect(down.message).toContain('HTTP 503');
  });
});
