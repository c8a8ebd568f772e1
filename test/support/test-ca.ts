/**
 * Throwaway certificate authorities for TLS tests, made with the machine's `openssl`: a CA, a server certificate it
 * signs (for the names asked, `localhost` by default), and an unrelated CA that must not be trusted for it.
 *
 *   const pki = makeTestPki();            // pki.ca, pki.wrongCa, pki.serverCert, pki.serverKey: PEM file paths
 *   ...
 *   pki.remove();
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  readonly dir: string;
  /** The CA that signed the server certificate. */
  readonly ca: string;
  /** Another CA: the server certificate does not verify against it. */
  readonly wrongCa: string;
  readonly serverCert: string;
  readonly serverKey: string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=db-access test ${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return { cert, key };
}

/** `names`: the server certificate's subjectAltName DNS names. */
export function makeTestPki(names: readonly string[] = ['localhost']): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'db-access-pki-'));
  try {
    const ca = makeCa(dir, 'ca');
    const wrong = makeCa(dir, 'wrong-ca');
    const serverKey = join(dir, 'server.key');
    const csr = join(dir, 'server.csr');
    const serverCert = join(dir, 'server.pem');
    const ext = join(dir, 'server.ext');
    writeFileSync(
      ext,
      `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`,
    );
    openssl(
      [
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        serverKey,
        '-out',
        csr,
        '-subj',
        `/CN=${names[0]}`,
      ],
      dir,
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        ca.cert,
        '-CAkey',
        ca.key,
        '-CAcreateserial',
        '-out',
        serverCert,
        '-days',
        '2',
        '-extfile',
        ext,
      ],
      dir,
    );
    return {
      dir,
      ca: ca.cert,
      wrongCa: wrong.cert,
      serverCert,
      serverKey,
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `openssl could not make the test certificates: ${(err as { stderr?: Buffer }).stderr?.toString() ?? String(err)}`,
      { cause: err },
    );
  }
}
