/** What the access policy adds to Slack messages: every decision explains itself, the incident is linked. */
import { describe, expect, it } from 'vitest';
import { approvalMessage } from '../../src/chat/slack/blocks/approval-message.js';
import { breakGlassAlert, escalationReply, reviewOverdueAlert } from '../../src/chat/slack/blocks/policy.js';
import { BREAK_GLASS_REVIEWED } from '../../src/chat/slack/ids.js';
import type { AccessRequest, Grant } from '../../src/core/model.js';
import type { RequestView } from '../../src/core/view.js';
import { rid, gid } from '../support/ids.js';

const NOW = Date.UTC(2026, 10, 28, 12, 0);
const base: AccessRequest = {
  id: rid(7),
  requester: { platform: 'slack', id: 'U0ALICE', email: 'alice@example.com', name: 'alice' },
  database: 'orders',
  level: 'read',
  durationMs: 3_600_000,
  reason: '<!here> urgent',
  status: 'approved',
  requiredApprovals: 0,
  createdAt: NOW,
  approvers: [{ platform: 'slack', id: 'U0BOB', name: 'bob', via: 'email' }],
  tier: 0,
  breakGlass: false,
};
const grant: Grant = {
  id: gid(3),
  requestId: rid(7),
  requester: base.requester,
  database: 'orders',
  level: 'read',
  username: 'jit_alice_abcd1234',
  status: 'active',
  createdAt: NOW,
  expiresAt: NOW + 3_600_000,
  activatedAt: NOW,
  provisionAttempts: 1,
  revokeAttempts: 0,
};
const view = (request: Partial<AccessRequest>, phase: RequestView['phase'] = 'active'): RequestView => ({
  request: { ...base, ...request },
  database: { name: 'orders', engine: 'postgres' },
  approvals: [],
  grant,
  phase,
  now: NOW,
});
const all = (m: { text: string; blocks: unknown[] }) => JSON.stringify(m);

describe('policy in Slack messages', () => {
  it('an auto-approved request says which rule approved it and why', () => {
    const m = approvalMessage(
      view({ decisionNote: 'auto-approved: read ≤ 1h, you are on call for PagerDuty schedule PABC123 (1 of 3 today)' }),
    );
    expect(all(m)).toContain('auto-approved: read ≤ 1h, you are on call for PagerDuty schedule PABC123 (1 of 3 today)');
  });

  it('a request scoped to an incident links it (a URL from PagerDuty) and says access ends with it', () => {
    const m = approvalMessage(
      view({ incidentId: 'PINC0001', incidentUrl: 'https://acme.pagerduty.com/incidents/PINC0001' }),
    );
    expect(all(m)).toContain('<https://acme.pagerduty.com/incidents/PINC0001|PINC0001>');
    expect(all(m)).toContain('access ends when it resolves');
    // A URL that does not look like PagerDuty's is shown as code, never as a link.
    const odd = approvalMessage(view({ incidentId: 'PINC0001', incidentUrl: 'https://evil.example/x|click' }));
    expect(all(odd)).not.toContain('<https://evil');
  });

  it('break-glass: the message says it was granted without approval; the alert has a Reviewed button until reviewed', () => {
    const bg = view({ breakGlass: true, reviewBy: NOW + 1_800_000, decisionNote: 'break-glass by alice' });
    expect(all(approvalMessage(bg))).toContain('Break-glass: granted without approval');
    const alert = breakGlassAlert(bg);
    expect(all(alert)).toContain(BREAK_GLASS_REVIEWED);
    expect(all(alert)).not.toContain('<!here>');
    expect(all(alert)).toContain('&lt;!here&gt; urgent');
    const reviewed = breakGlassAlert(view({ breakGlass: true, reviewBy: NOW + 1_800_000, reviewedAt: NOW + 60_000 }));
    expect(all(reviewed)).not.toContain(BREAK_GLASS_REVIEWED);
    expect(all(reviewed)).toContain('Reviewed');
    expect(all(reviewOverdueAlert(bg))).toContain('<@U0BOB>');
  });

  it('an escalation reply names the tier and mentions who is asked now', () => {
    const r = escalationReply(view({ status: 'pending' }, 'pending'), 2, [
      { platform: 'slack', id: 'U0CAROL', name: 'carol', via: 'tier 2' },
    ]);
    expect(all(r)).toContain('escalation tier 2');
    expect(all(r)).toContain('<@U0CAROL>');
  });
});
