/** The Slack surfaces of a bundle: the request form offers it, its DM lists every member without a password. */
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import { bundleDm } from '../../src/chat/slack/blocks/bundle-dm.js';
import { requestModal } from '../../src/chat/slack/blocks/request-modal.js';
import { renderVersion } from '../../src/chat/render-version.js';
import { helpText } from '../../src/chat/slack/blocks/ephemeral.js';
import { helpMessage, requestFormMessage } from '../../src/chat/teams/cards/replies.js';
import { DONE, INPUT, REVEAL } from '../../src/chat/slack/ids.js';
import type { AccessRequest, Grant, GrantId, RequestId } from '../../src/core/model.js';
import type { Phase, RequestView } from '../../src/core/view.js';

const yaml = `
databases:
  - name: orders
    engine: postgres
    host: 127.0.0.1
    database: orders
    admin: { user: a, password: x }
    levels: { read: { roles: [r] } }
  - name: billing
    engine: mysql
    host: 127.0.0.1
    database: billing
    admin: { user: a, password: x }
    levels: { read: { roles: [r] } }
    maxDuration: 2h
`;
const withBundle = `${yaml}bundles:
  - name: kit
    members: [{ database: orders, level: read }, { database: billing, level: read }]
    approval: { approvers: [{ email: bob@example.com }] }
`;

const alice = { platform: 'slack' as const, id: 'UALICE', name: 'alice' };

function request(id: number, database: string, level: string, partOf?: number): AccessRequest {
  return {
    id: id as RequestId,
    requester: alice,
    database,
    level,
    durationMs: 3_600_000,
    reason: 'INC-1',
    status: 'approved',
    requiredApprovals: 1,
    createdAt: 0,
    approvers: [],
    tier: 0,
    breakGlass: false,
    ...(partOf !== undefined && { partOf: partOf as RequestId }),
  };
}

function member(id: number, database: string, phase: Phase, grant: Partial<Grant>): RequestView {
  const g: Grant = {
    id: (id * 10) as GrantId,
    requestId: id as RequestId,
    requester: alice,
    database,
    level: 'read',
    username: `jit_alice_${database}`,
    status:
      phase === 'failed' ? 'failed' : phase === 'ended' ? 'revoked' : phase === 'active' ? 'active' : 'provisioning',
    createdAt: 0,
    expiresAt: 3_600_000,
    provisionAttempts: 0,
    revokeAttempts: 0,
    ...grant,
  };
  return {
    request: request(id, database, 'read', 1),
    database: { name: database, engine: 'postgres' },
    approvals: [],
    grant: g,
    phase,
    now: 0,
  };
}

function bundleView(members: RequestView[]): RequestView {
  return {
    request: request(1, 'kit', ''),
    database: { name: 'kit', engine: 'postgres' },
    approvals: [],
    phase: 'active',
    bundle: {
      name: 'kit',
      entries: [
        { database: 'orders', level: 'read' },
        { database: 'billing', level: 'read' },
      ],
      members,
    },
    now: 0,
  };
}

const buttons = (blocks: unknown[]) =>
  JSON.stringify(blocks)
    .match(/"action_id":"[^"]+","value":"\d+"/g)
    ?.map((s) => JSON.parse(`{${s}}`)) ?? [];

describe('Slack bundle blocks', () => {
  it('the request form lists bundles after databases and lets the level be left empty only when there are bundles', () => {
    const modal = requestModal(parseCatalog(withBundle, {}), { channelId: 'C1' });
    const db = modal.blocks.find((b) => 'block_id' in b && b.block_id === INPUT.database.block)!;
    const level = modal.blocks.find((b) => 'block_id' in b && b.block_id === INPUT.level.block)!;
    expect(JSON.stringify(db)).toMatch(
      /"value":"orders".*"value":"billing".*"value":"kit"|"value":"billing".*"value":"orders".*"value":"kit"/,
    );
    expect(JSON.stringify(db)).toContain('Bundle: read on orders, read on billing');
    expect(level).toMatchObject({ optional: true });
    const plain = requestModal(parseCatalog(yaml, {}), { channelId: 'C1' });
    expect(plain.blocks.find((b) => 'block_id' in b && b.block_id === INPUT.level.block)).not.toHaveProperty(
      'optional',
    );
  });

  it('the DM lists every member: Show credentials and I am done for each active one, the failure of a failed one', () => {
    const msg = bundleDm(
      bundleView([
        member(2, 'orders', 'active', {}),
        member(3, 'billing', 'failed', {
          lastError: 'connection refused',
          endReason: 'provisioning failed: connection refused',
        }),
      ]),
    );
    const text = JSON.stringify(msg.blocks);
    expect(buttons(msg.blocks)).toEqual([
      { action_id: REVEAL, value: '20' },
      { action_id: DONE, value: '20' },
    ]);
    expect(text).toContain('orders');
    expect(text).toMatch(/Could not create your user for .*billing.*connection refused/);
  });

  it('a member still being set up says so; one that failed an attempt says it is retried', () => {
    const msg = bundleDm(
      bundleView([
        member(2, 'orders', 'provisioning', {}),
        member(3, 'billing', 'provisioning', { provisionAttempts: 1, lastError: 'connection refused' }),
      ]),
    );
    const text = JSON.stringify(msg.blocks);
    expect(text).toMatch(/read\*? access to \*?orders\*? is being set up/);
    expect(text).toMatch(/connection refused[\s\S]*retried automatically/);
    expect(buttons(msg.blocks)).toEqual([]);
  });

  it("the bundle's message version grows with every member's step, a failed attempt included", () => {
    const at = (a: RequestView, b: RequestView, phase: Phase) => renderVersion({ ...bundleView([a, b]), phase });
    const steps = [
      at(member(2, 'orders', 'provisioning', {}), member(3, 'billing', 'provisioning', {}), 'provisioning'),
      at(
        member(2, 'orders', 'provisioning', {}),
        member(3, 'billing', 'provisioning', { provisionAttempts: 1 }),
        'provisioning',
      ),
      at(
        member(2, 'orders', 'active', {}),
        member(3, 'billing', 'provisioning', { provisionAttempts: 2 }),
        'provisioning',
      ),
      at(member(2, 'orders', 'active', {}), member(3, 'billing', 'failed', { provisionAttempts: 5 }), 'active'),
      at(member(2, 'orders', 'ended', {}), member(3, 'billing', 'failed', { provisionAttempts: 5 }), 'ended'),
    ];
    for (let i = 1; i < steps.length; i++) expect(steps[i]!).toBeGreaterThan(steps[i - 1]!);
  });

  it('help names the bundles, their members and their one maximum (Slack and Teams); none when there are none', () => {
    const slack = helpText(parseCatalog(withBundle, {}));
    expect(slack).toContain('*Bundles*');
    expect(slack).toMatch(/`kit`: `read` on `orders`, `read` on `billing` · up to 2h/);
    expect(slack).toContain('&lt;bundle&gt;');
    expect(helpText(parseCatalog(yaml, {}))).not.toContain('Bundles');
    const teams = JSON.stringify(helpMessage(parseCatalog(withBundle, {})));
    expect(teams).toContain('"text":"- bundle "},{"type":"TextRun","text":"kit","fontType":"Monospace"}');
    expect(teams).toContain('up to 2h');
  });

  it('the Teams request form offers bundles and lets the level be left empty only when there are bundles', () => {
    const form = JSON.stringify(requestFormMessage(parseCatalog(withBundle, {})));
    expect(form).toContain('"title":"kit · bundle: read on orders, read on billing","value":"kit"');
    expect(form).toMatch(/"id":"level","label":"Level \(none for a bundle\)"[^}]*"isRequired":false/);
    expect(JSON.stringify(requestFormMessage(parseCatalog(yaml, {})))).toMatch(
      /"id":"level","label":"Level"[^}]*"isRequired":true/,
    );
  });
});
