/**
 * The Broker (core/broker.ts) holds the core's in-process state for one application: the grants a lifecycle step
 * runs for, and the provisioning and revocation batchers. Two brokers in one process share none of it, and closing
 * one waits for the work already handed to it.
 */
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import { Broker } from '../../src/core/broker.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import { requestAccess } from '../../src/core/asking.js';
import { approve } from '../../src/core/deciding.js';
import { revoke } from '../../src/core/lifecycle.js';
import type { Actor, Grant } from '../../src/core/model.js';
import { memoryCore } from '../../dev/fakes/core-deps.js';
import { recordingNotifier } from '../support/notifiers.js';
import { waitFor } from '../support/wait.js';

const databases: DatabaseEntry[] = [
  ...parseCatalog(
    `databases:
  - name: orders
    engine: postgres
    host: 127.0.0.1
    database: orders
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [orders_read] } }
    approval: { approvers: [{ email: bob@example.com }] }
`,
    {},
  ).databases.values(),
];
const alice: Actor = { platform: 'slack', id: 'UALICE', email: 'alice@example.com', name: 'alice' };
const bob: Actor = { platform: 'slack', id: 'UBOB', email: 'bob@example.com', name: 'bob' };

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe('Broker', () => {
  it('runs one lifecycle step per grant at a time, and a second broker shares nothing with the first', async () => {
    const { deps } = memoryCore(databases, { notifier: recordingNotifier() });
    const other = new Broker(deps);
    expect(other.deps.broker).toBe(other);
    expect(deps.broker).not.toBe(other);

    const held = gate();
    const order: string[] = [];
    const first = deps.broker.exclusive(7, async () => {
      await held.wait;
      order.push('first');
    });
    const second = deps.broker.exclusive(7, async () => void order.push('second, same broker'));
    await other.exclusive(7, async () => void order.push('other broker'));
    expect(order).toEqual(['other broker']);
    held.open();
    await Promise.all([first, second]);
    expect(order).toEqual(['other broker', 'first', 'second, same broker']);
  });

  it("close() waits for a revocation handed over before it, up to the person's message", async () => {
    const notifier = recordingNotifier();
    const told = gate();
    const core = memoryCore(databases, {
      notifier: {
        ...notifier,
        grantEnded: async (view) => {
          await told.wait;
          await notifier.grantEnded(view);
        },
      },
      engine: { roles: { orders_read: ['select'] } },
    });
    const req = await requestAccess(core.deps, alice, {
      database: 'orders',
      level: 'read',
      duration: '1h',
      reason: 'INC-7',
    });
    const res = await approve(core.deps, req.id, bob);
    if (res.status !== 'approved') throw new Error(`expected approved, got ${res.status}`);
    await core.scheduler.runDue(core.clock.now(), core.handlers);

    const revoked = revoke(core.deps, res.grant.id, bob, 'done', 'revoked_early');
    let closed = false;
    const closing = core.deps.broker.close().then(() => (closed = true));
    await waitFor('the grant to end', async () => {
      const g: Grant | undefined = await core.store.getGrant(res.grant.id);
      return g?.status === 'revoked';
    });
    expect(closed).toBe(false); // its "ended" message is still on its way
    told.open();
    await closing;
    expect(notifier.events.map((e) => e.event)).toContain('grantEnded');
    expect((await revoked).receipt).toBeDefined();
  });
});
