/**
 * The lifecycle suite's target (test/integration/lifecycle.suite.ts) on a throwaway scram-sha-256 cluster of one
 * PostgreSQL server, its admin created by the product's least-privilege SQL for that version (setupPgTarget).
 */
import type { LiveTarget } from '../integration/lifecycle.suite.js';
import { setupPgTarget, startScramCluster } from './pg-cluster.js';
import type { PgServer } from './pg-versions.js';

export async function pgLiveTarget(server: PgServer): Promise<LiveTarget> {
  const cluster = await startScramCluster(server);
  try {
    const target = await setupPgTarget(cluster);
    return {
      entry: target.entry,
      sql: { select: 'SELECT * FROM items', insert: "INSERT INTO items(name) VALUES ('x')" },
      connect: (u, p) => target.connectAs(u, p),
      userExists: (u) => target.userExists(u),
      dropUserByHand: (u) => target.dropUserByHand(u),
      jitUsers: async () =>
        (await target.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'jit!_%' ESCAPE '!' ORDER BY 1")).map(
          (r) => String(r.rolname),
        ),
      teardown: () => cluster.stop(),
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
