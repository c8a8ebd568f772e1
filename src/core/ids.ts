/**
 * Request and grant ids as people and buttons carry them. Strict: decimal digits only, no sign, no exponent, no
 * hex ("0x2" is not 2), no leading zero, a safe integer; a leading "#" is allowed where people type one.
 */
const DECIMAL_ID = /^#?[1-9]\d{0,15}$/;

/** The id `value` spells, or undefined when it is anything else (the caller explains the refusal). */
export function parseDecimalId(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string' || !DECIMAL_ID.test(value)) return undefined;
  const id = Number(value.replace(/^#/, ''));
  return Number.isSafeInteger(id) ? id : undefined;
}
