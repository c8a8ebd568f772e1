/** Runs the real CLI (`src/main.ts` under tsx) as child processes, capturing everything they print. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = ['--import', 'tsx', 'src/main.ts'];

/** Every line any child printed, for the "no password in logs" check. */
export const capturedOutput: string[] = [];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...MAIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`db-access ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      capturedOutput.push(stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
  /** SIGKILL, as a power cut: the process group when started with `group`, else the process. Resolves once gone. */
  kill(): Promise<void>;
}

export interface StartOptions {
  /** Its own process group (the child leads it), so kill() ends it and anything it started at once. */
  group?: boolean;
}

/** Starts `db-access worker` and resolves once it logged that it started. */
export async function startWorker(
  env: NodeJS.ProcessEnv,
  role: 'worker' | 'all' | 'serve' = 'worker',
  opts: StartOptions = {},
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [...MAIN, role], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.group === true,
  });
  let out = '';
  const record = (d: Buffer) => (out += d.toString());
  child.stdout!.on('data', record);
  child.stderr!.on('data', record);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      capturedOutput.push(out);
      resolve({ code, signal });
    }),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    await waitFor(
      'the worker to start',
      () => {
        if (gone) throw new Error(`worker exited early:\n${out}`);
        return out.includes('db-access started');
      },
      { timeoutMs: 30_000 },
    );
  } catch (err) {
    child.kill('SIGKILL'); // never leave a half-started process behind
    throw err;
  }
  return {
    child,
    output: () => out,
    exited,
    async kill() {
      if (gone) return;
      if (opts.group && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface CliSession {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Types a line into its stdin. */
  type(line: string): void;
  done: Promise<CliResult>;
}

/** Runs the real CLI with a pipe on stdin, for verbs that ask the person something (`db-access request`). */
export function startCliSession(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): CliSession {
  const child = spawn(process.execPath, [...MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`db-access ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      capturedOutput.push(stderr);
      resolve({ code, stdout, stderr });
    });
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    type: (line) => child.stdin!.write(`${line}\n`),
    done,
  };
}
