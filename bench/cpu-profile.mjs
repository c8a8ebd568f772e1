// CPU profile of a process, written when it exits: `NODE_OPTIONS` rejects `--cpu-prof`, so load this instead:
//   BENCH_BROKER_NODE_OPTIONS="--import ./bench/cpu-profile.mjs" BENCH_CPU_PROFILE_DIR=/tmp/prof npm run bench
// Open the .cpuprofile in Chrome DevTools (Performance) or speedscope. Plain JS: it runs before tsx is loaded.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR ?? '.';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
// The in-process inspector answers synchronously, so this works inside an 'exit' handler.
process.once('exit', () => {
  session.post('Profiler.stop', (err, res) => {
    if (!err) writeFileSync(join(dir, `cpu-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
  });
});
