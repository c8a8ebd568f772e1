/**
 * DeferredProvisioningNotice: the "approved · provisioning" render is held back, sent only if the grant is still
 * provisioning when it is due, dropped when this process renders what comes next; everything else passes at once.
 * Fake timers: the delay is the contract under test, so time is moved by hand instead of waited for.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Grant } from '../../src/core/model.js';
import type { Logger, Notifier } from '../../src/core/ports.js';
import type { Phase, RequestView } from '../../src/core/view.js';
import { DeferredProvisioningNotice } from '../../src/notify/provisioning-notice.js';

const AFTER_MS = 2_000;

function view(phase: Phase, requestId = 7, grantId = 70): RequestView {
  return {
    request: { id: requestId, database: 'appdb' },
    database: { name: 'appdb', engine: 'postgres' },
    approvals: [],
    grant: { id: grantId, requestId, status: phase === 'active' ? 'active' : 'provisioning' },
    phase,
    now: 0,
  } as unknown as RequestView;
}

function recordingNotifier() {
  const seen: string[] = [];
  const n = new Proxy({} as Notifier, {
    get: (_t, method: string) => async (v: RequestView) => void seen.push(`${method}:${v.request.id}:${v.phase}`),
  });
  return { n, seen };
}

const logger = {
  debug: vi.fn(),
  info: vi.fn(),
  warn: vi.fn(),
  error: vi.fn(),
  child: () => logger,
} as unknown as Logger;

describe('DeferredProvisioningNotice', () => {
  let statuses: Map<number, Grant['status']>;
  let reads: number;
  const store = {
    getGrant: async (id: number) => {
      reads++;
      const status = statuses.get(id);
      return status ? ({ id, status } as Grant) : undefined;
    },
  };

  beforeEach(() => {
    vi.useFakeTimers();
    statuses = new Map([[70, 'provisioning']]);
    reads = 0;
  });
  afterEach(() => vi.useRealTimers());

  it('sends the notice once it is due if the grant is still provisioning, not before', async () => {
    const { n, seen } = recordingNotifier();
    const d = new DeferredProvisioningNotice([n], store, AFTER_MS, logger);
    await d.requestChanged(view('provisioning'));
    await vi.advanceTimersByTimeAsync(AFTER_MS - 1);
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toEqual(['requestChanged:7:provisioning']);
    expect(reads).toBe(1);
  });

  it('drops it when another process activated the grant meanwhile (the state DB says so)', async () => {
    const { n, seen } = recordingNotifier();
    const d = new DeferredProvisioningNotice([n], store, AFTER_MS, logger);
    await d.requestChanged(view('provisioning'));
    statuses.set(70, 'active');
    await vi.advanceTimersByTimeAsync(AFTER_MS);
    expect(seen).toEqual([]);
    expect(reads).toBe(1);
  });

  it('drops it without a read when this process activates, fails or ends the grant first', async () => {
    const { n, seen } = recordingNotifier();
    const d = new DeferredProvisioningNotice([n], store, AFTER_MS, logger);
    await d.requestChanged(view('provisioning', 1));
    await d.requestChanged(view('provisioning', 2));
    await d.requestChanged(view('provisioning', 3));
    await d.grantActivated(view('active', 1));
    await d.provisionFailed(view('provisioning', 2), 'boom', true);
    await d.grantEnded(view('ended', 3));
    await vi.advanceTimersByTimeAsync(AFTER_MS * 2);
    expect(seen).toEqual(['grantActivated:1:active', 'provisionFailed:2:provisioning', 'grantEnded:3:ended']);
    expect(reads).toBe(0);
  });

  it('passes every other change straight through, and everything when the delay is 0', async () => {
    const { n, seen } = recordingNotifier();
    const d = new DeferredProvisioningNotice([n], store, AFTER_MS, logger);
    await d.requestChanged(view('pending'));
    await d.requestChanged(view('denied'));
    expect(seen).toEqual(['requestChanged:7:pending', 'requestChanged:7:denied']);
    const immediate = recordingNotifier();
    await new DeferredProvisioningNotice([immediate.n], store, 0, logger).requestChanged(view('provisioning'));
    expect(immediate.seen).toEqual(['requestChanged:7:provisioning']);
  });

  it('close() drops the notices not yet due', async () => {
    const { n, seen } = recordingNotifier();
    const d = new DeferredProvisioningNotice([n], store, AFTER_MS, logger);
    await d.requestChanged(view('provisioning'));
    d.close();
    await vi.advanceTimersByTimeAsync(AFTER_MS * 2);
    expect(seen).toEqual([]);
    expect(reads).toBe(0);
  });
});
