/** The lifecycle suite on the machine's PostgreSQL (15); lifecycle-postgres-newest.test.ts runs it on the newest. */
import { lifecycleSuite } from './lifecycle.suite.js';
import { pgLiveTarget } from '../support/pg-live-target.js';
import { MACHINE_PG } from '../support/pg-versions.js';

lifecycleSuite(`PostgreSQL ${MACHINE_PG.major} (the machine's, scram-sha-256 cluster)`, () => pgLiveTarget(MACHINE_PG));
