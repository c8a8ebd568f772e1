/**
 * The target admin's password: `admin.password` from the catalog, or `admin.passwordFile` (a mounted secret, e.g.
 * a Kubernetes Secret volume) read again at every new connection, so a rotated secret is used without a restart.
 * One trailing newline (LF or CRLF) is stripped: `echo pw > file` and most secret tooling add one.
 */
import { readFileSync } from 'node:fs';
import type { DatabaseEntry } from '../core/catalog.js';
import { TargetError } from '../core/errors.js';

type AdminTarget = Pick<DatabaseEntry, 'name' | 'admin'>;

/** The file's content as a password. */
function readPasswordFile(path: string): string {
  return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
}

/**
 * The password to log in with now. An unreadable file is a TargetError('invalid') naming the database and the
 * file (never its content).
 */
export function adminPassword(db: AdminTarget): string | undefined {
  const file = db.admin.passwordFile;
  if (file === undefined) return db.admin.password;
  try {
    return readPasswordFile(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new TargetError(
      'invalid',
      `${db.name}: cannot read admin.passwordFile ${file}${code ? ` (${code})` : ''}`,
      code,
    );
  }
}

/**
 * The admin secrets an error message must not show: the configured password, or the file's current content
 * (read now, so a rotated password is scrubbed too). Never throws.
 */
export function adminSecrets(db: AdminTarget): Array<string | undefined> {
  if (db.admin.passwordFile === undefined) return [db.admin.password];
  try {
    return [readPasswordFile(db.admin.passwordFile)];
  } catch {
    return [];
  }
}
