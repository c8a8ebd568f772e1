// CPU profile of a process, written when it exits: `NODE_OPTIONS` rejects `--cpu-prof`, so load this instead:
//   BENCH_BROKER_NODE_OPTIONS="--import ./bench/cpu-profile.mjs" BENCH_CPU_PROFILE_DIR=/tmp/prof npm run bench
// With BENCH_CPU_PROFILE_WINDOW=1 as well, only the burst's sustained window is profiled (first click to last DM):
// the bench sends SIGUSR2 to the broker at both ends, and the profile is written at the second.
// Open the .cpuprofile in Chrome DevTools (Performance) or speedscope. Plain JS: it runs before tsx is loaded.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR ?? '.';
const session = new Session();
session.connect();
session.post('Profiler.enable');

// The in-process inspector answers synchronously, so this works inside an 'exit' handler.
const write = (suffix) =>
  session.post('Profiler.stop', (err, res) => {
    if (!err) writeFileSync(join(dir, `cpu-${process.pid}${suffix}.cpuprofile`), JSON.stringify(res.profile));
  });

if (process.env.BENCH_CPU_PROFILE_WINDOW === '1') {
  let running = false;
  process.on('SIGUSR2', () => {
    if (running) write('-window');
    else session.post('Profiler.start');
    running = !running;
  });
} else {
  session.post('Profiler.start');
  process.once('exit', () => write(''));
}
