/**
 * One incident directory over both vendors (src/oncall/incidents.ts), with the real clients against the doubles:
 * `og:` ids go to Opsgenie and the rest to PagerDuty, an unconfigured vendor's id is "not found" (refused, not
 * retried), and a person's open incidents come from whichever vendor answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpsgenieDouble, type OpsgenieDouble } from '../../dev/oncall/opsgenie-double.js';
import { startPagerDutyDouble, type PagerDutyDouble } from '../../dev/oncall/pagerduty-double.js';
import { VendorIncidents } from '../../src/oncall/incidents.js';
import { OpsgenieClient } from '../../src/oncall/opsgenie.js';
import { PagerDutyClient } from '../../src/oncall/pagerduty.js';
import { OnCallError } from '../../src/oncall/sources.js';

describe('VendorIncidents', () => {
  let pd: PagerDutyDouble;
  let og: OpsgenieDouble;
  let pagerduty: PagerDutyClient;
  let opsgenie: OpsgenieClient;

  beforeAll(async () => {
    pd = await startPagerDutyDouble();
    og = await startOpsgenieDouble();
    pagerduty = new PagerDutyClient({ token: pd.token, apiUrl: pd.url, maxRetries: 0, ttlMs: 0 });
    opsgenie = new OpsgenieClient({ apiKey: og.apiKey, apiUrl: og.url, maxRetries: 0, ttlMs: 0 });
  });
  afterAll(async () => {
    await pd.stop();
    await og.stop();
  });

  it('routes og: ids to Opsgenie and the rest to PagerDuty', async () => {
    pd.setIncident('PVI0001', { status: 'triggered', assignees: [{ email: 'ann@example.com' }] });
    const alert = og.setAlert({ status: 'open', owner: 'ann@example.com' });
    const both = new VendorIncidents({ pagerduty, opsgenie });
    expect((await both.incident('PVI0001')).responders).toEqual(['ann@example.com']);
    expect(await both.incident(`og:${alert.id}`)).toMatchObject({
      id: `og:${alert.id}`,
      responders: ['ann@example.com'],
    });
  });

  it("an unconfigured vendor's incident is not found, so the request naming it is refused rather than kept waiting", async () => {
    const err = await new VendorIncidents({ pagerduty }).incident('og:0123abcd-ef').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnCallError);
    expect((err as OnCallError).notFound).toBe(true);
    expect((err as OnCallError).message).toMatch(/Opsgenie is not configured \(OPSGENIE_API_KEY\)/);
  });

  it("each open incident carries the number people call it by: PagerDuty's incident_number, Opsgenie's tinyId", async () => {
    pd.setIncident('PVI0003', { status: 'triggered', number: 4242, assignees: [{ email: 'cat@example.com' }] });
    const alert = og.setAlert({ status: 'open', owner: 'cat@example.com', tinyId: '1791' });
    const both = new VendorIncidents({ pagerduty, opsgenie });
    expect((await both.openIncidentsOf('cat@example.com')).incidents.map((i) => [i.id, i.number])).toEqual([
      ['PVI0003', 4242],
      [`og:${alert.id}`, 1791],
    ]);
    expect((await both.incident('PVI0003')).number).toBe(4242);
    expect((await both.incident(`og:${alert.id}`)).number).toBe(1791);
  });

  it("a person's open incidents from both vendors; one vendor down leaves the other's and says so; both down throws", async () => {
    pd.setIncident('PVI0002', { status: 'acknowledged', assignees: [{ email: 'ben@example.com' }] });
    const alert = og.setAlert({ status: 'open', owner: 'ben@example.com', message: 'disk full' });
    const both = new VendorIncidents({ pagerduty, opsgenie });
    expect(await both.openIncidentsOf('ben@example.com')).toMatchObject({
      incidents: [{ id: 'PVI0002' }, { id: `og:${alert.id}` }],
      unanswered: [],
    });
    pd.failNext('/incidents', { status: 503 });
    const partial = await both.openIncidentsOf('ben@example.com');
    expect(partial.incidents.map((i) => i.id)).toEqual([`og:${alert.id}`]);
    expect(partial.unanswered).toEqual([expect.stringMatching(/HTTP 503/)]);
    pd.failNext('/incidents', { status: 503 });
    og.failNext('/v2/alerts', { status: 503 });
    await expect(both.openIncidentsOf('ben@example.com')).rejects.toThrow(/HTTP 503/);
  });
});
