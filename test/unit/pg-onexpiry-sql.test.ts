/** The statements onExpiry produces on PostgreSQL, and what the marker records (no server needed). */
import { describe, expect, it } from 'vitest';
import {
  createSchemasOf,
  postgresAdminSetupSql,
  reassignTargetGrantSql,
} from '../../src/targets/postgres/admin-setup.js';
import { encodeMarker, parseMarker } from '../../src/targets/postgres/marker.js';
import { ownedCleanupSql } from '../../src/targets/postgres/sql.js';

describe('PostgreSQL onExpiry statements', () => {
  it('one REASSIGN OWNED per receiving role, then one DROP OWNED for everyone', () => {
    expect(
      ownedCleanupSql([
        { username: 'jit_a_1' },
        { username: 'jit_b_2', reassignTo: 'incident_owner' },
        { username: 'jit_c_3', reassignTo: 'incident_owner' },
        { username: 'jit_d_4', reassignTo: 'Other-Owner' },
      ]),
    ).toEqual([
      'REASSIGN OWNED BY "jit_b_2", "jit_c_3" TO "incident_owner"',
      'REASSIGN OWNED BY "jit_d_4" TO "Other-Owner"',
      'DROP OWNED BY "jit_a_1", "jit_b_2", "jit_c_3", "jit_d_4"',
    ]);
    expect(ownedCleanupSql([{ username: 'jit_a_1' }])).toEqual(['DROP OWNED BY "jit_a_1"']);
  });

  it('the marker carries the receiving role; a marker without it (or with a bad one) means drop', () => {
    const m = encodeMarker(7, Date.UTC(2026, 11, 7), 'inst1', 'incident_owner');
    expect(JSON.parse(m)).toEqual({
      by: 'db-access',
      inst: 'inst1',
      grant: 7,
      exp: '2026-12-07T00:00:00.000Z',
      reassign: 'incident_owner',
    });
    expect(parseMarker(m)).toMatchObject({ grantId: 7, reassignTo: 'incident_owner' });
    expect(parseMarker(encodeMarker(7, 0))).not.toHaveProperty('reassignTo');
    expect(
      parseMarker('{"by":"db-access","grant":7,"exp":"2026-12-07T00:00:00Z","reassign":"x\\"; DROP"}'),
    ).not.toHaveProperty('reassignTo');
    expect(() => encodeMarker(7, 0, undefined, 'bad"role')).toThrow(/invalid reassignTo role/);
  });

  it('the schemas a level lets users create in come from its templated grants', () => {
    expect(
      createSchemasOf([
        'GRANT USAGE, CREATE ON SCHEMA public, "Ops" TO {{user}}',
        'GRANT ALL ON SCHEMA scratch TO {{user}}',
      ]),
    ).toEqual(['public', 'Ops', 'scratch']);
    expect(
      createSchemasOf([
        'GRANT USAGE ON SCHEMA public TO {{user}}',
        'GRANT SELECT ON items TO {{user}}',
        'GRANT CREATE ON DATABASE d TO {{user}}',
      ]),
    ).toEqual([]);
  });

  it('admin setup: the receiver grant per version (unknown version: the form valid on all)', () => {
    expect(reassignTargetGrantSql('incident_owner', 'jit_admin', 150000)).toBe('GRANT "incident_owner" TO "jit_admin"');
    expect(reassignTargetGrantSql('incident_owner', 'jit_admin', 160000)).toBe(
      'GRANT "incident_owner" TO "jit_admin" WITH INHERIT TRUE, SET TRUE',
    );
    const readme = postgresAdminSetupSql({
      adminUser: 'jit_admin',
      database: 'orders',
      roles: [],
      reassignTo: [{ role: 'incident_owner', schemas: ['public'] }],
    });
    expect(readme).toContain('GRANT "incident_owner" TO "jit_admin"');
    expect(readme).toContain('GRANT CREATE ON SCHEMA "public" TO "incident_owner"');
  });
});
