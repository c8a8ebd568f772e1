/**
 * Where the Slack notifier finds the request's messages on activation: the references read with the view (the
 * provisioning batch reads them ahead) when they hold the approval message, so no read happens after the user is
 * made; otherwise — a request approved by policy is provisioned while its approval message is still being
 * posted — it reads them from the state store then, and still updates the approval message once it exists.
 */
import { describe, expect, it } from 'vitest';
import type { WebClient } from '@slack/web-api';
import type { Catalog } from '../../src/core/catalog.js';
import type { AccessRequest, Actor, Grant } from '../../src/core/model.js';
import type { Logger, MessageRef, StateStore } from '../../src/core/ports.js';
import type { RequestView } from '../../src/core/view.js';
import { SlackNotifier } from '../../src/chat/slack/notifier.js';
import { rid, gid } from '../support/ids.js';

const NOW = Date.UTC(2026, 10, 29, 12, 0);
const ALICE: Actor = { platform: 'slack', id: 'U0ALICE', name: 'alice' };
const APPROVAL: MessageRef = {
  requestId: rid(42),
  platform: 'slack',
  kind: 'approval',
  channel: 'C0DB',
  messageId: '1700000000.000100',
  version: 1,
};

function activeView(messages?: MessageRef[]): RequestView {
  const request: AccessRequest = {
    id: rid(42),
    requester: ALICE,
    database: 'orders',
    level: 'read',
    durationMs: 3_600_000,
    tier: 0,
    breakGlass: false,
    reason: 'stuck orders',
    status: 'approved',
    requiredApprovals: 1,
    createdAt: NOW - 60_000,
    decidedAt: NOW,
    approvers: [],
    decideBy: NOW + 3_600_000,
  };
  const grant: Grant = {
    id: gid(7),
    requestId: rid(42),
    requester: ALICE,
    database: 'orders',
    level: 'read',
    username: 'jit_alice_x7k2',
    status: 'active',
    createdAt: NOW,
    activatedAt: NOW,
    expiresAt: NOW + 3_600_000,
    provisionAttempts: 1,
    revokeAttempts: 0,
  };
  return {
    request,
    grant,
    phase: 'active',
    now: NOW,
    database: { name: 'orders', engine: 'postgres' },
    approvals: [
      { requestId: rid(42), approver: { platform: 'slack', id: 'U0BOB', name: 'bob' }, decision: 'approve', at: NOW },
    ],
    ...(messages && { messages }),
  };
}

function stage(stored: MessageRef[]) {
  const calls: string[] = [];
  let reads = 0;
  const store = {
    getMessageRefs: async () => (reads++, stored),
    claimMessageVersion: async () => true,
    saveMessageRef: async (r: MessageRef) => void calls.push(`saved ${r.kind}`),
  } as unknown as StateStore;
  const client = {
    chat: {
      postMessage: async (m: { channel: string }) => (
        calls.push(`post ${m.channel}`),
        { ok: true, channel: 'D0ALICE', ts: '1700000001.000200' }
      ),
      update: async (m: { channel: string; ts: string }) => (calls.push(`update ${m.channel} ${m.ts}`), { ok: true }),
    },
  } as unknown as WebClient;
  const catalog: Catalog = { databases: new Map() };
  const logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger } as unknown as Logger;
  const notifier = new SlackNotifier(client, store, catalog, logger, { remindBeforeMs: 300_000 });
  return { notifier, calls, reads: () => reads };
}

describe('SlackNotifier.grantActivated: message references', () => {
  it('uses the references read with the view when they hold the approval message: no read', async () => {
    const s = stage([APPROVAL]);
    await s.notifier.grantActivated(activeView([APPROVAL]));
    expect(s.reads()).toBe(0);
    expect(s.calls.sort()).toEqual(['post U0ALICE', 'saved dm', `update C0DB ${APPROVAL.messageId}`].sort());
  });

  it('reads them when the view has none, or none for the approval message (still being posted)', async () => {
    for (const known of [undefined, [], [{ ...APPROVAL, platform: 'teams' as const, channel: '19:x@thread' }]]) {
      const s = stage([APPROVAL]);
      await s.notifier.grantActivated(activeView(known));
      expect(s.reads()).toBe(1);
      expect(s.calls).toContain(`update C0DB ${APPROVAL.messageId}`);
    }
  });

  it('an existing DM (a retried activation) is edited, not posted again', async () => {
    const dm: MessageRef = {
      requestId: rid(42),
      platform: 'slack',
      kind: 'dm',
      channel: 'D0ALICE',
      messageId: '1700000001.000200',
    };
    const s = stage([APPROVAL, dm]);
    await s.notifier.grantActivated(activeView([APPROVAL, dm]));
    expect(s.reads()).toBe(0);
    expect(s.calls.sort()).toEqual([`update C0DB ${APPROVAL.messageId}`, `update D0ALICE ${dm.messageId}`].sort());
  });
});
