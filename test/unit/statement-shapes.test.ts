import { describe, expect, it } from 'vitest';
import { statementKind, statementShape, summarise } from '../../src/targets/statements.js';

describe('statement shapes (what a receipt may show of a statement)', () => {
  it('keeps a normalised statement, without comments, on one line', () => {
    expect(statementShape('SELECT name\n  FROM items /* note */ WHERE id = $1 -- why\n')).toBe(
      'SELECT name FROM items WHERE id = $1',
    );
  });

  it('replaces any literal still in the text: strings, escaped and dollar-quoted strings, numbers', () => {
    const shape = statementShape(
      "select * from t1 where a = 'secret-literal-42' and b = E'x\\'y' and c = $$dollar secret$$ and d = 4242 and e = $2",
    );
    expect(shape).toBe('select * from t1 where a = ? and b = ? and c = ? and d = ? and e = $2');
    expect(shape).not.toMatch(/secret|4242/);
  });

  it('shows only the kind of a statement the server does not normalise (utility statements keep their text)', () => {
    expect(statementShape("SET application_name = 'secret-literal-42'")).toBe('SET');
    expect(statementShape("ALTER ROLE x PASSWORD 'hunter2'")).toBe('ALTER');
    expect(statementKind('  (SELECT 1)')).toBe('SELECT');
    expect(statementKind('')).toBe('OTHER');
  });

  it('cuts a long statement to 200 characters', () => {
    const shape = statementShape(`SELECT ${Array.from({ length: 100 }, (_, i) => `col${i}`).join(', ')} FROM t`);
    expect(shape).toHaveLength(200);
    expect(shape.endsWith('…')).toBe(true);
  });

  it('summarises calls per kind and the most called shapes', () => {
    const s = summarise('pg_stat_statements', [
      { text: 'SELECT * FROM orders WHERE status = $1', calls: 30, totalMs: 3, rows: 60 },
      { text: 'INSERT INTO orders VALUES ($1)', calls: 2, totalMs: 1, rows: 2 },
      { calls: 5, totalMs: 1, rows: 0 },
    ]);
    expect(s).toMatchObject({ available: true, calls: 37, rows: 62, byKind: { SELECT: 30, INSERT: 2, OTHER: 5 } });
    expect(s.available && s.top[0]).toMatchObject({ query: 'SELECT * FROM orders WHERE status = $1', calls: 30 });
  });
});
