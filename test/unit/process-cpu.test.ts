/**
 * The bench's CPU accounting (bench/process-cpu.ts) on real processes: a server's CPU must include children that
 * are still running and children that have already exited (PostgreSQL's backends come and go).
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { busyPercent, coreTimes, parentOf, treesCpuMs } from '../../bench/process-cpu.js';

const treeCpuMs = async (root: number) => (await treesCpuMs([root]))[0]!;

/**
 * A child that spins for `ms` of CPU (user + system), then exits or, with `stay`, waits for SIGTERM. It reads its
 * CPU time only every 100 000 additions: read in a tight loop, `cpuUsage()` (a getrusage call each) costs more system
 * time than the loop's user time on some kernels (1.66 s of system for 0.3 s of user seen on one VM).
 */
function spinner(ms: number, stay: boolean) {
  const code =
    `const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; }; const end = cpu() + ${ms}; let x = 0; ` +
    `while (cpu() < end) for (let i = 0; i < 100000; i++) x += i; process.stdout.write('spun ' + (x > 0) + '\\n'); ${stay ? 'setInterval(() => {}, 1000);' : ''}`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const spun = new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, spun, exited };
}

describe('process CPU accounting', () => {
  it('counts a living child and, once reaped, an exited one', async () => {
    const before = await treeCpuMs(process.pid);
    const living = spinner(300, true);
    await living.spun;
    expect(await parentOf(living.child.pid!)).toBe(process.pid);
    const withLiving = await treeCpuMs(process.pid);
    expect(withLiving - before).toBeGreaterThanOrEqual(290);

    const gone = spinner(300, false);
    await gone.exited; // Node has reaped it: its time is now in our cutime
    const withGone = await treeCpuMs(process.pid);
    expect(withGone - withLiving).toBeGreaterThanOrEqual(290);

    living.child.kill('SIGTERM');
    await living.exited;
    // Reaped after exiting, the first child's time moves into ours and is still counted once.
    const after = await treeCpuMs(process.pid);
    expect(after).toBeGreaterThanOrEqual(withGone);
    expect(after - before).toBeLessThan(2_000);
  });

  it('busyPercent is the busy share of the ticks between two readings', async () => {
    const a = await coreTimes();
    const end = Date.now() + 200;
    while (Date.now() < end); // one core busy
    const b = await coreTimes();
    expect(b.total).toBeGreaterThan(a.total);
    const pct = busyPercent(a, b);
    expect(pct).toBeGreaterThan(0);
    expect(pct).toBeLessThanOrEqual(100);
    expect(busyPercent(a, a)).toBe(0);
  });
});
