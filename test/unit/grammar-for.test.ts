/**
 * `… for <@person>` and Slack's escapes. The escaped shapes are those of Slack's formatting reference as a slash
 * command carries them with `should_escape: true`: a person `<@U0123ABC|alice>` (or `<@U0123ABC>`), a channel
 * `<#C0123ABC|general>`, a link `<https://…|label>` / `<https://…>`, an email `<mailto:…|…>`, special mentions
 * `<!here>` `<!channel>` `<!everyone>`, a user group `<!subteam^S…|@handle>`, a date `<!date^…|fallback>`, and
 * the three entities `&amp;` `&lt;` `&gt;` for what was typed.
 */
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/chat/grammar.js';
import { decodeCommandText, readableMentions } from '../../src/chat/slack/command-text.js';

/** What the Slack listener does: decode, then parse. */
const slack = (sent: string) => parseCommand(decodeCommandText(sent));

describe('Slack escapes in command text', () => {
  it.each([
    ['<@U0123ABC|alice>', '<@U0123ABC>'],
    ['<@U0123ABC>', '<@U0123ABC>'],
    ['<@W0123ABC|grid.person>', '<@W0123ABC>'],
    ['<#C0123ABC|general>', '#general'],
    ['<#C0123ABC>', '#C0123ABC'],
    ['<https://jira.example.com/browse/INC-42|INC-42>', 'https://jira.example.com/browse/INC-42'],
    ['<https://jira.example.com/browse/INC-42>', 'https://jira.example.com/browse/INC-42'],
    ['<https://x.example/?a=1&amp;b=2|x.example>', 'https://x.example/?a=1&b=2'],
    ['<mailto:bob@example.com|bob@example.com>', 'bob@example.com'],
    ['<!here>', '@here'],
    ['<!here|here>', '@here'],
    ['<!channel>', '@channel'],
    ['<!everyone>', '@everyone'],
    ['<!subteam^S0DBAS|@dbas>', '@dbas'],
    ['<!subteam^S0DBAS>', '@subteam'],
    ['<!date^1392734382^{date_num} {time_secs}|2014-02-18 6:39:42 AM>', '2014-02-18 6:39:42 AM'],
    ['a &amp; b &lt;c&gt;', 'a & b <c>'],
    // One pass: what an entity stands for is not read again.
    ['&amp;lt;', '&lt;'],
    ['&lt;!channel&gt;', '<!channel>'],
  ])('%s → %s', (sent, plain) => {
    expect(decodeCommandText(sent)).toBe(plain);
  });

  it('a ticket sent as a link is read as the ticket; a channel in a reason reads as #name', () => {
    expect(slack('appdb read 1h <https://jira.example.com/browse/INC-42> see <#C0INC|incident-42> &amp; co')).toEqual({
      kind: 'request',
      input: {
        database: 'appdb',
        level: 'read',
        duration: '1h',
        ticket: 'https://jira.example.com/browse/INC-42',
        reason: 'see #incident-42 & co',
      },
    });
  });

  it('a person named in a reason reads as the name they were picked by', () => {
    const sent = 'appdb read 1h INC-42 pairing with <@U0BOB|bob> and <@U0CAROL>';
    const c = slack(sent);
    expect(c.kind === 'request' && c.input.reason).toBe('pairing with <@U0BOB> and <@U0CAROL>');
    expect(readableMentions(c.kind === 'request' ? c.input.reason : '', sent)).toBe('pairing with @bob and @U0CAROL');
  });
});

describe('for <@person>', () => {
  it.each([
    'orders-prod read 1h for <@U0123ABC|alice> INC-42 checking stuck orders',
    'orders-prod read 1h for <@U0123ABC> INC-42 checking stuck orders',
    'orders-prod read 1h FOR <@U0123ABC|alice> INC-42 checking stuck orders',
  ])('%s names the person by id', (sent) => {
    expect(slack(sent)).toEqual({
      kind: 'request',
      input: {
        database: 'orders-prod',
        level: 'read',
        duration: '1h',
        ticket: 'INC-42',
        reason: 'checking stuck orders',
      },
      forWhom: 'U0123ABC',
    });
  });

  it('for @me / for me is the asker: an ordinary request', () => {
    for (const sent of ['orders-prod read 1h for @me INC-42 x', 'orders-prod read 1h for me INC-42 x']) {
      expect(slack(sent)).toEqual({
        kind: 'request',
        input: { database: 'orders-prod', level: 'read', duration: '1h', ticket: 'INC-42', reason: 'x' },
      });
    }
  });

  it('"for" followed by an ordinary word is the reason', () => {
    expect(slack('orders-prod read 1h for the migration')).toEqual({
      kind: 'request',
      input: { database: 'orders-prod', level: 'read', duration: '1h', reason: 'for the migration' },
    });
  });

  it.each([
    [
      'orders-prod read 1h for @alice INC-42 x',
      /`@alice` could be more than one person\. Pick them from the @-mention list/,
    ],
    ['orders-prod read 1h for <!here> INC-42 x', /`@here` notifies everyone in a channel/],
    ['orders-prod read 1h for <!channel> INC-42 x', /`@channel` notifies everyone/],
    ['orders-prod read 1h for <!everyone> INC-42 x', /`@everyone` notifies everyone/],
    ['orders-prod read 1h for <!subteam^S0DBAS|@dbas> INC-42 x', /`@dbas` could be more than one person/],
    ['orders-prod read 1h for <#C0123ABC|general> INC-42 x', /`#general` is a channel, not a person/],
    // Typed markup never reaches the answer as markup.
    ['orders-prod read 1h for &lt;!channel&gt; x', /`\?\?channel\?` could be more than one person/],
  ])('%s is refused, saying why', (sent, problem) => {
    const c = slack(sent);
    expect(c.kind).toBe('invalid');
    expect(c.kind === 'invalid' && c.problem).toMatch(problem);
    expect(c.kind === 'invalid' && c.problem).toMatch(/Nothing was asked for\.$/);
  });

  it('break-glass is only for yourself', () => {
    const c = slack('break-glass orders-prod read 30m for <@U0123ABC|alice> primary down');
    expect(c).toEqual({
      kind: 'invalid',
      problem: 'Break-glass access is only ever for yourself. Nothing was asked for.',
    });
  });
});
