/**
 * `db-access report --post C… --dm-approvers` through the real CLI against the Slack double: the channel post links
 * to the report page with a link signed for that channel, each approver (resolved from the catalog's sources, here
 * an email Slack knows) gets a DM with a link of their own; both verify with the key the HTTP server derives from
 * ADMIN_API_TOKEN, and not with another token's. Without PUBLIC_URL, --dm-approvers is refused before anything is
 * posted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSlackDouble, type SlackDouble } from '../../dev/slack/double.js';
import { reportLinkKey, verifyReportLink, REPORT_LINK_TTL_MS } from '../../src/audit/report-link.js';
import { migrateLatest } from '../../src/store/index.js';
import { tempSqliteUrl, writeCatalog } from '../support/catalog.js';
import { runCli } from '../support/processes.js';

const CHANNEL = 'C0REPORTS';
const TOKEN = 'report-post-admin-token';

/** The URL of the first `<url|text>` link in a Slack message text, its `&amp;` decoded. */
function linkIn(text: string): URL {
  const m = /<(https?:[^|>]+)\|/.exec(text);
  if (!m) throw new Error(`no link in ${text}`);
  return new URL(m[1]!.replace(/&amp;/g, '&'));
}

describe('the posted access report links to its page', () => {
  let slack: SlackDouble;
  let env: Record<string, string>;

  beforeAll(async () => {
    slack = await startSlackDouble();
    slack.addUser({ id: 'U0BOB', email: 'bob@example.com', name: 'bob' });
    slack.addChannel(CHANNEL, { name: 'db-reports' });
    const catalog = writeCatalog(
      [
        {
          name: 'orders-prod',
          engine: 'postgres',
          host: '127.0.0.1',
          port: 5432,
          database: 'orders',
          admin: { user: 'jit_admin', password: 'x' },
          levels: new Map([['read', { name: 'read', roles: ['r'], grants: [], guardRails: { connectionLimit: 2 } }]]),
          approval: { required: 1 },
        } as never,
      ],
      { approvers: [{ email: 'bob@example.com' }, { email: 'nobody-in-slack@example.com' }] },
    );
    const url = tempSqliteUrl();
    await migrateLatest(url);
    env = {
      ...catalog.env,
      CATALOG_PATH: catalog.path,
      DATABASE_URL: url,
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_API_URL: slack.url,
      ADMIN_API_TOKEN: TOKEN,
      PUBLIC_URL: 'https://broker.example.com/db-access/',
    };
  }, 60_000);

  afterAll(async () => {
    await slack?.stop();
  });

  it('posts the report with a link for the channel and DMs each approver a link of their own', async () => {
    const before = Date.now();
    const res = await runCli(['report', '--since', '7d', '--post', CHANNEL, '--dm-approvers'], env);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('Sent a personal link to the report page to 1 approver(s).');
    const key = reportLinkKey(TOKEN);
    const posted = slack.messagesIn(CHANNEL);
    expect(posted).toHaveLength(1);
    const channelLink = linkIn(posted[0]!.text);
    expect(channelLink.origin + channelLink.pathname).toBe('https://broker.example.com/db-access/report');
    const check = verifyReportLink(key, Object.fromEntries(channelLink.searchParams), Date.now());
    expect(check).toMatchObject({ ok: true, link: { issuedTo: `slack-channel:${CHANNEL}` } });
    if (!check.ok) return;
    expect(check.link.expiresAt).toBeGreaterThanOrEqual(Math.floor((before + REPORT_LINK_TTL_MS) / 1000) * 1000);
    expect(channelLink.searchParams.get('from')).toBe(new Date(before - 7 * 86_400_000).toISOString().slice(0, 10));

    const dms = slack.dmOf('U0BOB');
    expect(dms).toHaveLength(1);
    const own = linkIn(dms[0]!.text);
    expect(verifyReportLink(key, Object.fromEntries(own.searchParams), Date.now())).toMatchObject({
      ok: true,
      link: { issuedTo: 'bob@example.com' },
    });
    expect(verifyReportLink(reportLinkKey('another-token'), Object.fromEntries(own.searchParams), Date.now())).toEqual({
      ok: false,
      why: 'invalid',
    });
  });

  it('refuses --dm-approvers without PUBLIC_URL, before posting anything', async () => {
    const posts = slack.messagesIn(CHANNEL).length;
    const res = await runCli(['report', '--post', CHANNEL, '--dm-approvers'], { ...env, PUBLIC_URL: '' });
    expect(res.code).not.toBe(0);
    expect(res.stderr + res.stdout).toContain('--dm-approvers goes with --post and needs PUBLIC_URL');
    expect(slack.messagesIn(CHANNEL)).toHaveLength(posts);
  });
});
