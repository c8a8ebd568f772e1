/**
 * How the broker's admin connections to a target are protected (catalog `tls`), shared by both engines.
 *
 *   mode         PostgreSQL (node-postgres `ssl`)          MySQL/MariaDB (mysql2 `ssl`)
 *   (absent)     no TLS (today's behaviour)                no TLS
 *   disable      no TLS                                    no TLS
 *   require      TLS, certificate not verified             TLS, certificate not verified
 *   verify-ca    TLS, chain verified against `ca`          TLS, chain verified against `ca`
 *                (host name not checked)                   (host name not checked)
 *   verify-full  TLS, chain + host name verified           TLS, chain + host name verified
 *
 * `ca` is a PEM bundle; without it the chain is verified against Node's trusted roots. Both drivers refuse to go on
 * in plaintext once TLS is asked for. A certificate that does not verify becomes a TargetError('permanent') that
 * names the database and the problem, classified by the TLS error code (never by message text).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { Catalog, DatabaseEntry, TlsMode } from '../core/catalog.js';
import { TargetError } from '../core/errors.js';

type TlsTarget = Pick<DatabaseEntry, 'name' | 'host' | 'tls'>;

/** 127.0.0.0/8, ::1 and `localhost`: traffic that never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** The effective mode: no `tls` key means no TLS. */
export function tlsMode(db: Pick<DatabaseEntry, 'tls'>): TlsMode {
  return db.tls?.mode ?? 'disable';
}

/** True when the broker's traffic to this target may cross a network in plaintext. */
export function plaintextOverNetwork(db: Pick<DatabaseEntry, 'host' | 'tls'>): boolean {
  return tlsMode(db) === 'disable' && !isLoopbackHost(db.host);
}

/** `check`'s warning for a target reached without TLS over a network; undefined when there is nothing to say. */
export function tlsWarning(db: TlsTarget): string | undefined {
  if (!plaintextOverNetwork(db)) return undefined;
  const how = db.tls ? 'has tls.mode disable' : 'has no tls setting';
  return `${db.name}: ${how} but ${db.host} is not a loopback address; admin connections and new passwords cross the network unencrypted (set tls.mode to verify-full, verify-ca or require)`;
}

/** `check`'s warnings: one per target of the catalog reached without TLS over a network. */
export function targetTlsWarnings(catalog: Pick<Catalog, 'databases'>): string[] {
  return [...catalog.databases.values()].map(tlsWarning).filter((w): w is string => w !== undefined);
}

/** What both drivers need to know, resolved once per engine. */
export interface TlsPlan {
  mode: TlsMode;
  /** The CA bundle's PEM text, when the catalog names one. */
  ca?: string;
  /** The CA bundle could not be read: every connection attempt fails with this, naming the file. */
  problem?: TargetError;
}

/** Reads the catalog's CA bundle now (at engine creation); a missing file becomes `problem`, not a throw. */
export function tlsPlan(db: TlsTarget): TlsPlan {
  const mode = tlsMode(db);
  const path = db.tls?.ca;
  if (mode === 'disable' || path === undefined) return { mode };
  try {
    return { mode, ca: readFileSync(path, 'utf8') };
  } catch (err) {
    const code = (err as { code?: string }).code;
    return {
      mode,
      problem: new TargetError(
        'invalid',
        `${db.name}: cannot read the TLS CA bundle ${path}${code ? ` (${code})` : ''}`,
        code,
      ),
    };
  }
}

/** node-postgres `ssl`: false, or tls.connect options (pg sets `servername` itself for host names). */
export function pgSslOptions(plan: TlsPlan): false | ConnectionOptions {
  switch (plan.mode) {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return {
        rejectUnauthorized: true,
        ...(plan.ca !== undefined && { ca: plan.ca }),
        checkServerIdentity: () => undefined,
      };
    case 'verify-full':
      return { rejectUnauthorized: true, ...(plan.ca !== undefined && { ca: plan.ca }) };
  }
}

/** mysql2 `ssl`: undefined (no TLS) or its SslOptions (`verifyIdentity` switches the host-name check on). */
export function mysqlSslOptions(
  plan: TlsPlan,
): undefined | { rejectUnauthorized: boolean; verifyIdentity: boolean; ca?: string } {
  if (plan.mode === 'disable') return undefined;
  const ca = plan.ca !== undefined ? { ca: plan.ca } : {};
  if (plan.mode === 'require') return { rejectUnauthorized: false, verifyIdentity: false };
  return { rejectUnauthorized: true, verifyIdentity: plan.mode === 'verify-full', ...ca };
}

/** OpenSSL verification results (Node's `err.code`) for a chain that does not lead to a trusted CA. */
const UNTRUSTED_CHAIN = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_PURPOSE',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const WRONG_HOST = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);
/** mysql2: the server's handshake does not offer TLS although the catalog asks for it. */
const NO_TLS = new Set(['HANDSHAKE_NO_SSL_SUPPORT']);
/** mysql2's code for a TLS upgrade that failed, when the cause could not be recovered. */
const HANDSHAKE = new Set(['HANDSHAKE_SSL_ERROR']);

/**
 * A TLS failure of `err` (by its code) as a TargetError naming the database and the problem; undefined when `err`
 * is not a TLS failure. 'permanent': a certificate does not start verifying by retrying.
 */
export function certificateError(err: unknown, db: TlsTarget): TargetError | undefined {
  if (err instanceof TargetError) return undefined;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code !== 'string') return undefined;
  const trusted = db.tls?.ca !== undefined ? `the CA in ${db.tls.ca}` : "the system's trusted CAs";
  let problem: string | undefined;
  if (UNTRUSTED_CHAIN.has(code)) problem = `the server's certificate is not signed by ${trusted}`;
  else if (EXPIRED.has(code)) problem = "the server's certificate is expired or not yet valid";
  else if (WRONG_HOST.has(code)) problem = `the server's certificate does not name the host ${db.host}`;
  else if (NO_TLS.has(code)) problem = `the server does not offer TLS but tls.mode is ${tlsMode(db)}`;
  else if (HANDSHAKE.has(code)) problem = 'the TLS handshake with the server failed';
  return problem === undefined ? undefined : new TargetError('permanent', `${db.name}: ${problem} (${code})`, code);
}

/**
 * MySQL/MariaDB only: `CREATE USER … IDENTIFIED BY '<password>'` carries the new password in plaintext, so it is
 * never sent over a connection without TLS to a server off this machine. (PostgreSQL is sent a SCRAM verifier
 * instead.) A pre-hashed form is no way out: MySQL 8's caching_sha2_password has none a client can compute, and
 * MariaDB's `IDENTIFIED BY PASSWORD '*<SHA1(SHA1(pw))>'` would force the weak mysql_native_password plugin and
 * still hand an eavesdropper, together with one sniffed login, everything needed to log in as that user.
 * Returns the refusal to throw before anything is sent, or undefined when the password may go.
 */
export function plaintextPasswordRefusal(db: Pick<DatabaseEntry, 'name' | 'host' | 'tls'>): TargetError | undefined {
  if (!plaintextOverNetwork(db)) return undefined;
  return new TargetError(
    'invalid',
    `${db.name}: refusing to send a new password to ${db.host} over an unencrypted connection; configure tls (mode require, verify-ca or verify-full) for this database in the catalog`,
  );
}
