/**
 * What the Teams bot reads from a typed message: the captured channel message (test/fixtures/real/teams), and the
 * same message with a person @-mentioned as Teams adds it (a `mention` entity with their `29:` id and name, the
 * `<at>name</at>` in the text).
 */
import { readFileSync } from 'node:fs';
import type { TurnContext } from 'botbuilder';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/chat/grammar.js';
import { readableMentions, typedText } from '../../src/chat/teams/typed-text.js';

type Activity = TurnContext['activity'];
const captured = JSON.parse(
  readFileSync(new URL('../fixtures/real/teams/message-channel-mention.json', import.meta.url), 'utf8'),
) as Activity;
const ALICE = { id: '29:1alice-teams-user-id', name: 'Alice Smith' };

function withText(text: string, people: Array<{ id: string; name: string }>): Activity {
  return {
    ...captured,
    text: `<at>ridotest</at> ${text}`,
    entities: [
      ...(captured.entities ?? []),
      ...people.map((p) => ({ type: 'mention', text: `<at>${p.name}</at>`, mentioned: p })),
    ],
  } as Activity;
}

describe('Teams typed text', () => {
  it('the captured message: the bot’s mention is removed, nobody else is mentioned', () => {
    const t = typedText(captured);
    expect(t.text.trim()).toBe('reply to thread');
    expect([...t.mentioned]).toEqual([]);
  });

  it('a person @-mentioned becomes <@id> for the grammar, and a reason names them', () => {
    const t = typedText(
      withText('db-access orders read 1h for <at>Alice Smith</at> INC-42 with <at>Alice Smith</at> &amp; co', [
        ALICE,
        ALICE,
      ]),
    );
    const c = parseCommand(t.text.trim().replace(/^db-access\b/, ''), 'db-access');
    expect(c).toMatchObject({ kind: 'request', forWhom: ALICE.id, input: { ticket: 'INC-42' } });
    const reason = c.kind === 'request' ? readableMentions(c.input.reason, t.mentioned) : '';
    expect(reason).toBe('with @Alice Smith & co');
  });

  it('a <@id> typed as text has no entity behind it: it is not among the mentioned', () => {
    const t = typedText(withText(`db-access orders read 1h for &lt;@${ALICE.id}&gt; x`, []));
    const c = parseCommand(t.text.trim().replace(/^db-access\b/, ''), 'db-access');
    expect(c).toMatchObject({ kind: 'request', forWhom: ALICE.id });
    expect(t.mentioned.has(ALICE.id)).toBe(false);
  });
});
