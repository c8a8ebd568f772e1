/** Teams text and cards (pure): user text can neither format nor mention; mentions carry their entities; the manifest installs the bot. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/chat/grammar.js';
import { approvalCard } from '../../src/chat/teams/cards/approval.js';
import { accessActiveCard, credentialsDialog, credentialsInChatMessage } from '../../src/chat/teams/cards/dm.js';
import { escapeCard, TeamsText } from '../../src/chat/teams/markup.js';
import { cardText } from '../../dev/teams/activities.js';
import { buildCredentials } from '../../src/core/credentials.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import type { RequestView } from '../../src/core/view.js';
import { REPO_ROOT } from '../support/processes.js';

const T0 = Date.UTC(2026, 10, 28, 10, 0, 0);

function view(over: Partial<RequestView['request']> = {}): RequestView {
  return {
    request: {
      id: 7,
      requester: {
        platform: 'teams',
        id: '00000001-aaaa-4bbb-8ccc-000000000001',
        name: 'alice',
        email: 'alice@example.com',
      },
      database: 'orders',
      level: 'read',
      durationMs: 3_600_000,
      reason: 'checking',
      status: 'pending',
      requiredApprovals: 1,
      createdAt: T0,
      tier: 0,
      approvers: [{ platform: 'email', id: 'bob@example.com', email: 'bob@example.com', name: 'Bob <b>' }],
      ...over,
    } as RequestView['request'],
    database: { name: 'orders', engine: 'postgres' },
    approvals: [],
    phase: 'pending',
    now: T0,
  };
}

describe('Teams text', () => {
  it('escapes every markdown mark and breaks <at> so no user text formats, links or mentions', () => {
    const hostile = '**b** _i_ [x](https://e.example) # h `c` ~s~ > q | t ! \\ <at>Bob</at> </AT>';
    const out = escapeCard(hostile);
    expect(out).not.toMatch(/(?<!\\)[*_[\]()#`~>|!]/);
    expect(out).not.toMatch(/<\/?at/i);
    expect(cardText({ type: 'TextBlock', text: out }).replace(/\u200b/g, '')).toBe(hostile);
  });

  it('drops control, bidi and invisible characters, in text and in mentions', () => {
    expect(escapeCard('a\u0000b\u0007c\u009fd\ne')).toBe('abcd\ne');
    expect(escapeCard('fix\u202Egnp.exe \u200Bnow\u2066')).toBe('fixgnp.exe now');
    const t = new TeamsText();
    expect(
      t.mention({ platform: 'email', id: 'bob@example.com', email: 'bob@example.com', name: 'B\u202Eob\u200B' }),
    ).toBe('<at>Bob</at>');
    expect(t.entities()[0]!.mentioned.name).toBe('Bob');
  });

  it('a mention carries an entity whose text is exactly what the card shows; names lose marks, not people', () => {
    const t = new TeamsText();
    const m = t.mention({ platform: 'email', id: 'bob@example.com', email: 'bob@example.com', name: 'Bob <b>*' });
    expect(m).toBe('<at>Bob b</at>');
    expect(t.entities()).toEqual([
      { type: 'mention', text: '<at>Bob b</at>', mentioned: { id: 'bob@example.com', name: 'Bob b' } },
    ]);
    expect(t.mention({ platform: 'slack', id: 'U0BOB', name: 'no email' })).toBe('no email');
    expect(t.entities()).toHaveLength(1);
  });

  it('dates are Teams date functions, shown to each reader in their own time zone', () => {
    expect(new TeamsText().date(T0 + 1234)).toBe(
      '{{DATE(2026-11-28T10:00:01Z, SHORT)}} {{TIME(2026-11-28T10:00:01Z)}}',
    );
  });
});

describe('the approval card', () => {
  it('is Adaptive Card 1.5 with Approve / Deny as Universal Actions carrying only the request id', () => {
    const card = approvalCard(view());
    expect(card.version).toBe('1.5');
    expect(card.actions).toEqual([
      {
        type: 'Action.Execute',
        title: 'Approve',
        verb: 'approve',
        data: { verb: 'approve', requestId: 7 },
        style: 'positive',
        fallback: {
          type: 'Action.Submit',
          title: 'Approve',
          data: { verb: 'approve', requestId: 7 },
          style: 'positive',
        },
      },
      {
        type: 'Action.Execute',
        title: 'Deny',
        verb: 'deny',
        data: { verb: 'deny', requestId: 7 },
        style: 'destructive',
        fallback: { type: 'Action.Submit', title: 'Deny', data: { verb: 'deny', requestId: 7 }, style: 'destructive' },
      },
    ]);
    const ids = card.msteams.entities!.map((e) => e.mentioned.id).sort();
    expect(ids).toEqual(['00000001-aaaa-4bbb-8ccc-000000000001', 'bob@example.com']);
    const json = JSON.stringify(card);
    for (const e of card.msteams.entities!) expect(json).toContain(JSON.stringify(e.text).slice(1, -1));
  });

  it('stays well under Teams message size with a huge reason, and shows no buttons once decided', () => {
    const big = approvalCard(view({ reason: 'x'.repeat(100_000) }));
    expect(JSON.stringify(big).length).toBeLessThan(10_000);
    expect(approvalCard({ ...view({ status: 'denied' }), phase: 'denied' }).actions).toBeUndefined();
  });
});

/** Every element of a card of the given type, at any depth. */
function elements(node: unknown, type: string): Array<Record<string, unknown>> {
  if (Array.isArray(node)) return node.flatMap((n) => elements(n, type));
  if (!node || typeof node !== 'object') return [];
  const n = node as Record<string, unknown>;
  return [...(n.type === type ? [n] : []), ...Object.values(n).flatMap((v) => elements(v, type))];
}

describe('the credentials cards', () => {
  const db = { engine: 'postgres', host: 'orders-db.internal', port: 5432, database: 'orders' } as DatabaseEntry;
  const creds = buildCredentials(db, 'jit_alice_x7k2', 'Pw0rdXq9Zt3LmN8vB2cR', T0 + 3_600_000);
  const grantView = (): RequestView => ({
    ...view({ status: 'approved', reason: 'fix *urgent* [orders] #42 <at>bob</at> a_b' }),
    phase: 'active',
    grant: { id: 3, username: 'jit_alice_x7k2', database: 'orders', expiresAt: T0 + 3_600_000 } as RequestView['grant'],
  });

  it('hold every value to copy (user, password, host, port, database, command, URL) as a TextRun with exactly its characters, never as escaped markdown', () => {
    const cards = [
      credentialsDialog(grantView(), creds),
      credentialsInChatMessage(grantView(), creds).attachments[0]!.content,
      accessActiveCard(grantView()),
    ];
    for (const card of cards) {
      const runs = elements(card, 'TextRun').map((r) => r.text);
      expect(runs).toContain('jit_alice_x7k2');
      for (const tb of elements(card, 'TextBlock')) expect(String(tb.text)).not.toContain('jit');
      expect(JSON.stringify(card)).not.toContain('jit\\\\_alice');
    }
    const dialog = elements(credentialsDialog(grantView(), creds), 'TextRun');
    for (const exact of ['orders-db.internal', '5432', 'orders', 'Pw0rdXq9Zt3LmN8vB2cR', creds.command, creds.url]) {
      expect(
        dialog.some((r) => r.text === exact && r.fontType === 'Monospace'),
        exact,
      ).toBe(true);
    }
  });

  it('shows user text (the reason) as typed, in a TextRun, where no mention needs a TextBlock', () => {
    const card = approvalCard(view({ reason: 'fix *urgent* [orders] #42 a_b \\o/' }));
    const reason = elements(card, 'RichTextBlock').find((b) => cardText(b).startsWith('Reason:'));
    expect(reason?.inlines).toEqual([
      { type: 'TextRun', text: 'Reason:', weight: 'Bolder' },
      { type: 'TextRun', text: ' fix *urgent* [orders] #42 a_b \\o/' },
    ]);
    // A line with a mention stays a TextBlock (mentions work nowhere else), escaped so the user text cannot format.
    const requested = elements(card, 'TextBlock').find((b) => String(b.text).includes('Requested by'));
    expect(requested?.text).toBe('**Requested by:** <at>alice</at>');
  });

  it('show host, port, database, user, password, the command exactly as it must be pasted, and the URL labelled as holding the password', () => {
    for (const card of [
      credentialsDialog(view(), creds),
      credentialsInChatMessage(view(), creds).attachments[0]!.content,
    ]) {
      const shown = cardText(card).replace(/\u200b/g, '');
      for (const s of ['orders-db.internal', '5432', 'orders', 'jit_alice_x7k2', 'Pw0rdXq9Zt3LmN8vB2cR', creds.url])
        expect(shown).toContain(s);
      expect(shown).toContain(
        `PGPASSWORD='Pw0rdXq9Zt3LmN8vB2cR' psql 'host=orders-db.internal port=5432 dbname=orders user=jit_alice_x7k2'`,
      );
      expect(shown).toMatch(/URL.*includes the password/);
    }
  });
});

describe('the Teams app manifest', () => {
  const dir = join(REPO_ROOT, 'manifests/teams');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    manifestVersion: string;
    id: string;
    icons: { color: string; outline: string };
    bots: Array<{ botId: string; scopes: string[]; commandLists: Array<{ commands: Array<{ title: string }> }> }>;
    webApplicationInfo: { id: string };
  };

  it('installs one bot, in personal chats and teams, whose id is the app id', () => {
    expect(manifest.bots).toHaveLength(1);
    expect(manifest.bots[0]!.scopes).toEqual(expect.arrayContaining(['personal', 'team']));
    expect(manifest.bots[0]!.botId).toBe(manifest.id);
    expect(manifest.webApplicationInfo.id).toBe(manifest.id);
  });

  it('lists only commands the bot understands', () => {
    const examples: Record<string, string> = {
      'db-access': '',
      list: 'list',
      revoke: 'revoke 1',
      extend: 'extend 1 30m',
      'break-glass': 'break-glass orders read 1h down',
      help: 'help',
    };
    for (const { title } of manifest.bots[0]!.commandLists.flatMap((l) => l.commands)) {
      expect(examples[title], title).toBeDefined();
      expect(parseCommand(examples[title]!, 'db-access').kind, title).not.toBe('invalid');
    }
  });

  it('ships icons of the sizes Teams requires (192×192 colour, 32×32 outline)', () => {
    const size = (f: string) => {
      const b = readFileSync(join(dir, f));
      expect(b.subarray(1, 4).toString()).toBe('PNG');
      return [b.readUInt32BE(16), b.readUInt32BE(20)];
    };
    expect(size(manifest.icons.color)).toEqual([192, 192]);
    expect(size(manifest.icons.outline)).toEqual([32, 32]);
  });
});
