import { lifecycleSuite } from './lifecycle.suite.js';
import { setupPgTarget, startScramCluster } from '../support/pg-cluster.js';

lifecycleSuite('PostgreSQL (scram-sha-256 cluster)', async () => {
  const cluster = await startScramCluster();
  const target = await setupPgTarget(cluster);
  return {
    entry: target.entry,
    sql: { select: 'SELECT * FROM items', insert: "INSERT INTO items(name) VALUES ('x')" },
    connect: (u, p) => target.connectAs(u, p),
    userExists: (u) => target.userExists(u),
    dropUserByHand: (u) => target.dropUserByHand(u),
    jitUsers: async () =>
      (await target.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'jit!_%' ESCAPE '!' ORDER BY 1")).map((r) => String(r.rolname)),
    teardown: () => cluster.stop(),
  };
});
