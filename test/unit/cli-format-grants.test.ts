import { describe, expect, it } from 'vitest';
import { formatGrantTable } from '../../src/cli/format.js';
import type { Grant } from '../../src/core/model.js';
import { rid, gid } from '../support/ids.js';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const grant = (over: Partial<Grant>): Grant => ({
  id: gid(7),
  requestId: rid(3),
  requester: { platform: 'slack', id: 'U0ALICE', email: 'alice@example.com' },
  database: 'orders',
  level: 'read',
  username: 'jit_alice_x7',
  status: 'active',
  createdAt: NOW - 60_000,
  expiresAt: NOW + 3_600_000,
  provisionAttempts: 1,
  revokeAttempts: 0,
  ...over,
});

describe('grants list', () => {
  it('shows a grant being created with its duration, not a deadline; an active one with its expiry', () => {
    const table = formatGrantTable(
      [
        grant({ status: 'provisioning', createdAt: NOW, expiresAt: NOW + 30 * 60_000 }),
        grant({ id: gid(8), activatedAt: NOW - 60_000 }),
      ],
      NOW,
    );
    const [, creating, active] = table.split('\n');
    expect(creating).toContain('being created (30m once the user exists)');
    expect(creating).not.toContain('UTC');
    expect(active).toContain('2026-12-07 13:00:00 UTC (in 1h)');
  });
});
