/**
 * The lifecycle suite on the newest PostgreSQL of test/support/pg-versions.ts (npm-packaged binaries); with
 * lifecycle-postgres.test.ts (the machine's 15) it spans the oldest and the newest server CI runs. The versions in
 * between run the engine contract (postgres-versions.test.ts).
 */
import { lifecycleSuite } from './lifecycle.suite.js';
import { pgLiveTarget } from '../support/pg-live-target.js';
import { NEWEST_PG } from '../support/pg-versions.js';

lifecycleSuite(`PostgreSQL ${NEWEST_PG.major} (npm-packaged, scram-sha-256 cluster)`, () => pgLiveTarget(NEWEST_PG));
