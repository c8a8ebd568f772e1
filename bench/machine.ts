/** What the numbers were measured on: CPU, cores, RAM, load when the run started, Node, and the servers' versions. */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: number;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAtStart: number;
  os: string;
  node: string;
  bullmq: string;
  servers: Record<string, string>;
}

function packageVersion(name: string): string {
  try {
    const url = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    return String((JSON.parse(readFileSync(url, 'utf8')) as { version?: string }).version);
  } catch {
    return '?';
  }
}

export function describeMachine(servers: Record<string, string>, loadAtStart: number): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    ramGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    loadAtStart: Number(loadAtStart.toFixed(2)),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    bullmq: packageVersion('bullmq'),
    servers,
  };
}
