import { lifecycleSuite } from './lifecycle.suite.js';
import { setupMariadbTarget } from '../support/mariadb-target.js';

lifecycleSuite('MariaDB', async () => {
  const target = await setupMariadbTarget();
  return {
    entry: target.entry,
    sql: { select: target.sql.select, insert: target.sql.insert },
    connect: (u, p) => target.connectAs(u, p),
    userExists: (u) => target.userExists(u),
    dropUserByHand: (u) => target.dropUserByHand(u),
    jitUsers: async () => (await target.jitUsers()).sort(),
    teardown: () => target.teardown(),
  };
});
