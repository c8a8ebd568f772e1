/**
 * Statement statistics as the engines hand them to the core: only the shape of a statement, never a literal. The
 * servers already replace constants in the statements they plan (pg_stat_statements: $1, $2 …); everything else
 * (utility statements, which PostgreSQL before 16 keeps verbatim, comments, which it keeps too) is reduced here.
 */
import type { StatementShape, StatementSummary } from '../core/model.js';
import { cleanLine } from '../core/text.js';

/** Characters of a statement shape kept. */
export const MAX_SHAPE_CHARS = 200;
/** Shapes listed in a summary. */
export const TOP_SHAPES = 3;

/** Statements whose constants the server replaces before recording them: their text may be shown (reduced). */
const NORMALISED_KINDS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'WITH', 'VALUES', 'TABLE']);

/** The statement's kind: its first keyword, upper case ("SELECT"); "OTHER" when it has none. */
export function statementKind(text: string): string {
  const word = /^[\s(]*([A-Za-z]+)/.exec(stripComments(text))?.[1];
  return word ? word.toUpperCase() : 'OTHER';
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?(\*\/|$)/g, ' ').replace(/--[^\n]*/g, ' ');
}

/**
 * What may be shown of a recorded statement: the text of a statement the server normalised, without comments,
 * with any quoted or dollar-quoted string and any number still in it replaced by `?` (defence in depth; a backslash
 * is taken as an escape, so a string may swallow more than itself, never less), on one
 * line, at most MAX_SHAPE_CHARS; for any other statement only its kind.
 */
export function statementShape(text: string): string {
  const kind = statementKind(text);
  if (!NORMALISED_KINDS.has(kind)) return kind;
  const reduced = cleanLine(stripComments(text))
    .replace(/\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$/g, '?')
    .replace(/(?:(?<!\w)[EeBbXxNn])?'(?:[^'\\]|\\[\s\S]|'')*'?/g, '?')
    .replace(/(?<![\w$."])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b/g, '?')
    .replace(/\s+/g, ' ')
    .trim();
  return reduced.length > MAX_SHAPE_CHARS ? `${reduced.slice(0, MAX_SHAPE_CHARS - 1)}…` : reduced;
}

/** One recorded entry of a user's statistics. `text` undefined: the server hides it (kind unknown). */
export interface StatementEntry {
  kind?: string;
  text?: string;
  calls: number;
  totalMs: number;
  rows: number;
}

/** The summary of one user's entries: totals, calls per kind, the most called shapes (entries with a text). */
export function summarise(
  source: 'pg_stat_statements' | 'performance_schema',
  entries: StatementEntry[],
): StatementSummary {
  const byKind: Record<string, number> = {};
  const shapes = new Map<string, StatementShape>();
  let calls = 0;
  let totalMs = 0;
  let rows = 0;
  for (const e of entries) {
    calls += e.calls;
    totalMs += e.totalMs;
    rows += e.rows;
    const kind = e.kind ?? (e.text !== undefined ? statementKind(e.text) : 'OTHER');
    byKind[kind] = (byKind[kind] ?? 0) + e.calls;
    if (e.text === undefined) continue;
    const query = statementShape(e.text);
    const s = shapes.get(query) ?? { query, calls: 0, totalMs: 0, rows: 0 };
    s.calls += e.calls;
    s.totalMs += e.totalMs;
    s.rows += e.rows;
    shapes.set(query, s);
  }
  const top = [...shapes.values()]
    .sort((a, b) => b.calls - a.calls || b.totalMs - a.totalMs)
    .slice(0, TOP_SHAPES)
    .map((s) => ({ ...s, totalMs: round(s.totalMs) }));
  return { available: true, source, calls, totalMs: round(totalMs), rows, byKind, top };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
