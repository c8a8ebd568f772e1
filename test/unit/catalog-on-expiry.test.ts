/** onExpiry per level: PostgreSQL takes drop or { reassignTo }; MySQL/MariaDB refuse reassignTo at load, naming the path. */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseCatalog } from '../../src/config/catalog.js';

const catalog = (engine: 'postgres' | 'mysql', onExpiry: string) => `
databases:
  - name: orders
    engine: ${engine}
    host: db.internal
    database: orders
    admin: { user: jit_admin, password: x }
    levels:
      read: { roles: [orders_read] }
      fix: { roles: [orders_read], onExpiry: ${onExpiry} }
`;

function problems(yaml: string): string[] {
  try {
    parseCatalog(yaml, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('catalog onExpiry', () => {
  it('PostgreSQL: reassignTo is kept on the level, drop is the default', () => {
    const db = parseCatalog(catalog('postgres', '{ reassignTo: incident_owner }'), {}).databases.get('orders')!;
    expect(db.levels.get('fix')!.onExpiry).toEqual({ reassignTo: 'incident_owner' });
    expect(db.levels.get('read')!.onExpiry).toBeUndefined();
    expect(
      parseCatalog(catalog('postgres', 'drop'), {}).databases.get('orders')!.levels.get('fix')!.onExpiry,
    ).toBeUndefined();
  });

  it('MySQL/MariaDB: reassignTo is a config error at its path; drop is fine', () => {
    const p = problems(catalog('mysql', '{ reassignTo: incident_owner }'));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^databases\[0\]\.levels\.fix\.onExpiry: onExpiry reassignTo is PostgreSQL only/);
    expect(problems(catalog('mysql', 'drop'))).toEqual([]);
  });
});
