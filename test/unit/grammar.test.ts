import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/chat/grammar.js';

describe('/db-access grammar', () => {
  it.each([
    ['', { kind: 'modal' }],
    ['help', { kind: 'help' }],
    ['LIST', { kind: 'list' }],
    ['revoke #42', { kind: 'revoke', grantId: 42 }],
    ['extend 42 30m still digging', { kind: 'extend', grantId: 42, duration: '30m', reason: 'still digging' }],
    [
      'orders-prod read 1h INC-4211 checking stuck orders',
      {
        kind: 'request',
        input: {
          database: 'orders-prod',
          level: 'read',
          duration: '1h',
          ticket: 'INC-4211',
          reason: 'checking stuck orders',
        },
      },
    ],
    // A bundle: its second word is a duration (no level name can be one), so it has no level.
    [
      'incident-kit 2h INC-7 orders and billing',
      {
        kind: 'request',
        input: { database: 'incident-kit', level: '', duration: '2h', ticket: 'INC-7', reason: 'orders and billing' },
      },
    ],
    [
      'incident-kit 30m for <@U0BOB> looking',
      {
        kind: 'request',
        input: { database: 'incident-kit', level: '', duration: '30m', reason: 'looking' },
        forWhom: 'U0BOB',
      },
    ],
    [
      'orders-prod read 1h checking stuck orders',
      {
        kind: 'request',
        input: { database: 'orders-prod', level: 'read', duration: '1h', reason: 'checking stuck orders' },
      },
    ],
    [
      'orders-prod read 1h pd:PABC123 INC-9 why',
      {
        kind: 'request',
        input: {
          database: 'orders-prod',
          level: 'read',
          duration: '1h',
          incident: 'PABC123',
          ticket: 'INC-9',
          reason: 'why',
        },
      },
    ],
    // INC-<n> is a ticket in any case (the core matches it to the requester's open incident numbered n).
    [
      'orders-prod read 1h inc-42 fixing the orders backlog',
      {
        kind: 'request',
        input: {
          database: 'orders-prod',
          level: 'read',
          duration: '1h',
          ticket: 'inc-42',
          reason: 'fixing the orders backlog',
        },
      },
    ],
    [
      'orders-prod read 1h https://acme.pagerduty.com/incidents/Q1W2E3R4 why',
      {
        kind: 'request',
        input: { database: 'orders-prod', level: 'read', duration: '1h', incident: 'Q1W2E3R4', reason: 'why' },
      },
    ],
    [
      'orders-prod read 1h og:70413a06-38d6-4c85-92b8-5ebc900d42e2-1568045093253 why',
      {
        kind: 'request',
        input: {
          database: 'orders-prod',
          level: 'read',
          duration: '1h',
          incident: 'og:70413a06-38d6-4c85-92b8-5ebc900d42e2-1568045093253',
          reason: 'why',
        },
      },
    ],
    [
      'orders-prod read 1h og:NOT-AN-ID why',
      {
        kind: 'request',
        input: { database: 'orders-prod', level: 'read', duration: '1h', reason: 'og:NOT-AN-ID why' },
      },
    ],
    [
      'break-glass orders-prod write 30m primary is down',
      {
        kind: 'request',
        breakGlass: true,
        input: { database: 'orders-prod', level: 'write', duration: '30m', reason: 'primary is down' },
      },
    ],
  ])('%s', (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });

  it.each(['revoke', 'extend 4', 'extend 4 soon', 'orders-prod read', 'break-glass orders-prod'])(
    'refuses %s with usage',
    (text) => {
      const c = parseCommand(text);
      expect(c.kind).toBe('invalid');
      expect(c.kind === 'invalid' && c.problem).toMatch(/^Usage:/);
    },
  );

  // Number() (after dropping a '#') reads all but the last as a positive integer (2, 10, 3, 2, 2, 8, 2): the grammar must not.
  it.each([
    ['revoke 0x2', '"0x2"'],
    ['revoke 1e1', '"1e1"'],
    ['extend +3 1h', '"+3"'],
    ['revoke 2.0', '"2.0"'],
    ['revoke 02', '"02"'],
    ['extend 0o10 30m more', '"0o10"'],
    ['revoke #0b10', '"#0b10"'],
    ['revoke abc', '"abc"'],
  ])('refuses %s: the id is not a grant number', (text, quoted) => {
    const c = parseCommand(text);
    expect(c.kind).toBe('invalid');
    expect(c.kind === 'invalid' && c.problem).toMatch(/ is not a grant number\. Usage:/);
    expect(c.kind === 'invalid' && c.problem.startsWith(`${quoted} is not`)).toBe(true);
  });

  it('quotes a refused id inertly: no mrkdwn, mention or link survives into the problem', () => {
    const c = parseCommand('revoke <!channel>*_~`');
    expect(c.kind === 'invalid' && c.problem).toMatch(/^"\?{2}channel\?{5}" is not a grant number/);
  });

  it('cleans the whole text first: bidi, zero-width and control characters never reach a reason or an id', () => {
    expect(parseCommand('orders-prod read 1h fix\u202Egnp.exe\u0000 now\u200B!')).toEqual({
      kind: 'request',
      input: { database: 'orders-prod', level: 'read', duration: '1h', reason: 'fixgnp.exe now!' },
    });
    expect(parseCommand('revoke \u200B42\u2066')).toEqual({ kind: 'revoke', grantId: 42 });
    expect(parseCommand('\u202Ehelp')).toEqual({ kind: 'help' });
  });
});
