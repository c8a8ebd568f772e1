/**
 * SCRAM-SHA-256 verifiers computed in Node, so PostgreSQL never receives (or logs) a plaintext password
 * (vault#6910). Mirrors openbao `postgresql/scram/scram.go` and PostgreSQL's own `pg_fe_scram_build_secret`.
 */
import { createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

export const SCRAM_ITERATIONS = 4096;

/** `SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>` for `password`. */
export function scramSha256Verifier(
  password: string,
  iterations = SCRAM_ITERATIONS,
  salt: Buffer = randomBytes(16),
): string {
  return encode(pbkdf2Sync(saslPrep(password), salt, iterations, 32, 'sha256'), iterations, salt);
}

/** The same, with the key derivation (4096 × HMAC) on libuv's thread pool instead of the event loop. */
export async function scramSha256VerifierAsync(
  password: string,
  iterations = SCRAM_ITERATIONS,
  salt: Buffer = randomBytes(16),
): Promise<string> {
  return encode(await pbkdf2Async(saslPrep(password), salt, iterations, 32, 'sha256'), iterations, salt);
}

/** SASLprep is the identity for printable ASCII, which is all the broker generates (see assertPassword). */
function saslPrep(password: string): Buffer {
  return Buffer.from(password.normalize('NFKC'), 'utf8');
}

function encode(salted: Buffer, iterations: number, salt: Buffer): string {
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
