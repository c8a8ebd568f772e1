import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/chat/grammar.js';

describe('/db-access grammar', () => {
  it.each([
    ['', { kind: 'modal' }],
    ['help', { kind: 'help' }],
    ['LIST', { kind: 'list' }],
    ['revoke #42', { kind: 'revoke', grantId: 42 }],
    ['extend 42 30m still digging', { kind: 'extend', grantId: 42, duration: '30m', reason: 'still digging' }],
    ['orders-prod read 1h INC-4211 checking stuck orders', { kind: 'request', input: { database: 'orders-prod', level: 'read', duration: '1h', ticket: 'INC-4211', reason: 'checking stuck orders' } }],
    ['orders-prod read 1h checking stuck orders', { kind: 'request', input: { database: 'orders-prod', level: 'read', duration: '1h', reason: 'checking stuck orders' } }],
    ['orders-prod read 1h pd:PABC123 INC-9 why', { kind: 'request', input: { database: 'orders-prod', level: 'read', duration: '1h', incident: 'PABC123', ticket: 'INC-9', reason: 'why' } }],
    ['orders-prod read 1h https://acme.pagerduty.com/incidents/Q1W2E3R4 why', { kind: 'request', input: { database: 'orders-prod', level: 'read', duration: '1h', incident: 'Q1W2E3R4', reason: 'why' } }],
    ['break-glass orders-prod write 30m primary is down', { kind: 'request', breakGlass: true, input: { database: 'orders-prod', level: 'write', duration: '30m', reason: 'primary is down' } }],
  ])('%s', (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });

  it.each(['revoke', 'revoke abc', 'extend 4', 'extend 4 soon', 'orders-prod read', 'break-glass orders-prod'])('refuses %s with usage', (text) => {
    const c = parseCommand(text);
    expect(c.kind).toBe('invalid');
    expect(c.kind === 'invalid' && c.problem).toMatch(/^Usage:/);
  });
});
