/**
 * Vault's DatabaseErrorSanitizerMiddleware: a driver error can echo SQL (MySQL's "near '…'"), so every error
 * that leaves an engine has the secrets it knew about replaced before anyone logs or stores it.
 */
export function scrub(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
  // PostgreSQL SCRAM verifiers and anything after IDENTIFIED BY / PASSWORD are secret-shaped too.
  out = out.replace(/SCRAM-SHA-256\$[^\s'"]+/g, 'SCRAM-SHA-256$[REDACTED]');
  out = out.replace(/(IDENTIFIED\s+BY\s+|PASSWORD\s+)'[^']*'/gi, "$1'[REDACTED]'");
  return out;
}
