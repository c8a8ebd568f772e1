/**
 * mysql2's TLS gaps, closed here:
 * - it replaces the code of every TLS failure with HANDSHAKE_SSL_ERROR, so the real one (SELF_SIGNED_CERT_IN_CHAIN,
 *   ERR_TLS_CERT_ALTNAME_INVALID, …) is recovered by repeating the handshake on a fresh socket with the same
 *   checks — server greeting, SSLRequest, TLS, then hang up: it never logs in and sends no secret;
 * - with an IP-address host it checks the certificate against the name `localhost` (it sets no servername and
 *   Node falls back to 'localhost'), so verify-full to an IP address is refused rather than silently weakened.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import type { DatabaseEntry } from '../../core/catalog.js';
import { TargetError } from '../../core/errors.js';
import type { TlsPlan } from '../tls.js';

/** mysql2's code for any failure of the TLS upgrade. */
export const HANDSHAKE_SSL_ERROR = 'HANDSHAKE_SSL_ERROR';

/** verify-full with an IP-literal host: refused before connecting (see the file header). */
export function verifyFullByIpProblem(
  db: Pick<DatabaseEntry, 'name' | 'host'>,
  plan: TlsPlan,
): TargetError | undefined {
  if (plan.mode !== 'verify-full' || isIP(db.host.replace(/^\[(.*)\]$/, '$1')) === 0) return undefined;
  return new TargetError(
    'invalid',
    `${db.name}: tls.mode verify-full needs the server's DNS name as host (the MySQL driver cannot check an IP address against the certificate); use its name, or verify-ca`,
  );
}

// Client capability flags of the SSLRequest packet: LONG_PASSWORD | PROTOCOL_41 | SSL | SECURE_CONNECTION | PLUGIN_AUTH.
const SSL_REQUEST_FLAGS = 0x1 | 0x200 | 0x800 | 0x8000 | 0x80000;
const UTF8MB4_GENERAL_CI = 45;

function sslRequestPacket(): Buffer {
  const packet = Buffer.alloc(4 + 32);
  packet.writeUIntLE(32, 0, 3); // payload length
  packet.writeUInt8(1, 3); // sequence id: the reply to the server's greeting (0)
  packet.writeUInt32LE(SSL_REQUEST_FLAGS, 4);
  packet.writeUInt32LE(0x1000000, 8); // max packet size
  packet.writeUInt8(UTF8MB4_GENERAL_CI, 12);
  return packet; // 23 filler bytes stay zero
}

/** Resolves once the server's greeting packet has arrived; rejects on an error packet or a closed socket. */
function greeting(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 4 || buf.length < 4 + buf.readUIntLE(0, 3)) return;
      socket.off('data', onData);
      if (buf[4] === 0xff) reject(new Error('the server sent an error instead of a greeting'));
      else resolve();
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the greeting')));
  });
}

/**
 * The Node/OpenSSL code of the TLS failure against `db` with `plan`'s checks, or undefined when the handshake
 * succeeds now or the server cannot be reached. Never throws.
 */
export async function probeTlsFailure(
  db: Pick<DatabaseEntry, 'host' | 'port'>,
  plan: TlsPlan,
  timeoutMs = 5_000,
): Promise<string | undefined> {
  const host = db.host.replace(/^\[(.*)\]$/, '$1');
  const socket = netConnect(db.port, host);
  socket.setTimeout(timeoutMs, () => socket.destroy());
  socket.on('error', () => undefined);
  try {
    await greeting(socket);
    socket.write(sslRequestPacket());
    const verify = plan.mode === 'verify-ca' || plan.mode === 'verify-full';
    return await new Promise<string | undefined>((resolve) => {
      const secure = tlsConnect({
        socket,
        rejectUnauthorized: verify,
        ...(plan.ca !== undefined && { ca: plan.ca }),
        ...(isIP(host) === 0 && { servername: host }),
        checkServerIdentity: (_name, cert) =>
          plan.mode === 'verify-full' ? checkServerIdentity(host, cert) : undefined,
      });
      secure.once('secureConnect', () => {
        secure.destroy();
        resolve(undefined);
      });
      secure.once('error', (err: Error & { code?: string }) => {
        secure.destroy();
        resolve(err.code);
      });
      secure.once('close', () => resolve(undefined));
    });
  } catch {
    return undefined;
  } finally {
    socket.destroy();
  }
}
