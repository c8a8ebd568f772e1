/**
 * CPU accounting from Linux /proc, for "where did the machine's time go" beside each figure: a server's CPU
 * (its root process and every descendant, living or already reaped) and how busy all cores were.
 * USER_HZ is 100 on Linux: one tick is 10 ms.
 */
import { readdir, readFile } from 'node:fs/promises';

const TICK_MS = 10;

interface Stat {
  ppid: number;
  /** utime + stime, in ticks. */
  own: number;
  /** cutime + cstime: children this process has waited for, in ticks. */
  reaped: number;
}

/** Fields after the command name, which may itself hold spaces and parentheses. */
function parseStat(text: string): Stat {
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
}

async function allStats(): Promise<Map<number, Stat>> {
  const stats = new Map<number, Stat>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    // A process may exit between the listing and the read: it is then in its parent's `reaped`.
    const text = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
    if (text) stats.set(Number(name), parseStat(text));
  }
  return stats;
}

/**
 * CPU used so far by each root and its descendants, in ms, from one read of /proc: each living process's own time
 * plus what the children it has reaped used (cutime/cstime include theirs in turn). PostgreSQL's backends are the
 * postmaster's children, so a postmaster's figure is the whole server's work, backends that came and went included.
 */
export async function treesCpuMs(roots: readonly number[]): Promise<number[]> {
  const stats = await allStats();
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) {
    const siblings = children.get(s.ppid);
    if (siblings) siblings.push(pid);
    else children.set(s.ppid, [pid]);
  }
  return roots.map((root) => {
    let ticks = 0;
    const stack = [root];
    while (stack.length > 0) {
      const pid = stack.pop()!;
      const s = stats.get(pid);
      ticks += s ? s.own + s.reaped : 0;
      stack.push(...(children.get(pid) ?? []));
    }
    return ticks * TICK_MS;
  });
}

/** CPU time (user + system) one process has used so far itself, in ms (children not included). */
export async function ownCpuMs(pid: number): Promise<number> {
  return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8')).own * TICK_MS;
}

/** A PostgreSQL server's postmaster, through a connection that is open: its backend's parent. */
export async function postmasterOf(c: {
  query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }>;
}): Promise<number> {
  return parentOf(Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0]!.pid));
}

/** The parent of `pid` (e.g. a PostgreSQL backend's postmaster). */
export async function parentOf(pid: number): Promise<number> {
  return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8')).ppid;
}

export interface CoreTimes {
  busy: number;
  total: number;
}

/** Busy and total ticks summed over all cores since boot (/proc/stat; idle and iowait count as not busy). */
export async function coreTimes(): Promise<CoreTimes> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3]! - v[4]!, total };
}

/** Share of all cores' time that was busy between two readings, in percent. */
export function busyPercent(before: CoreTimes, after: CoreTimes): number {
  const total = after.total - before.total;
  return total > 0 ? (100 * (after.busy - before.busy)) / total : 0;
}
