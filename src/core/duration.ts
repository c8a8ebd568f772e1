/** Durations as people type them: `90s`, `15m`, `1h`, `1h30m`, `2d`. Returns milliseconds or undefined. */
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

export function parseDuration(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (!t) return undefined;
  const m = DURATION.exec(t);
  if (!m || m.slice(1).every((g) => g === undefined)) return undefined;
  const [, d, h, min, s] = m;
  const ms =
    Number(d ?? 0) * UNIT_MS.d! +
    Number(h ?? 0) * UNIT_MS.h! +
    Number(min ?? 0) * UNIT_MS.m! +
    Number(s ?? 0) * UNIT_MS.s!;
  return ms > 0 ? ms : undefined;
}

export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('') || '0s';
}
