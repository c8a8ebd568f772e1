/**
 * The "service tls" check of a managed database (RDS/Aurora, Cloud SQL, Azure), the same on both engines: does the
 * catalog make the broker verify the server with the provider's CA? `requirement` says what the server itself
 * demands (engine-specific settings).
 */
import type { TargetTls } from '../core/catalog.js';
import type { EngineCheck } from '../core/ports.js';

export type ManagedService = 'aurora' | 'rds' | 'cloudsql' | 'azure';

function caBundle(service: ManagedService): string {
  switch (service) {
    case 'cloudsql':
      return "the instance's server CA certificate (server-ca.pem); with a per-instance CA the certificate does not name the IP address, so use verify-ca when connecting by IP";
    case 'azure':
      return 'the CA certificates Microsoft documents for the service';
    default:
      return 'the AWS RDS CA bundle for the region (global-bundle.pem)';
  }
}

export function serviceTlsCheck(service: ManagedService, tls: TargetTls | undefined, requirement: string): EngineCheck {
  const verified = tls?.mode === 'verify-full' || (service === 'cloudsql' && tls?.mode === 'verify-ca');
  const ok = verified && tls?.ca !== undefined;
  return {
    name: 'service tls',
    ok,
    severity: 'warning',
    detail: ok
      ? `${requirement}; the broker verifies the server (tls.mode ${tls!.mode}, CA ${tls!.ca})`
      : `${requirement}. The catalog has ${tls ? `tls.mode ${tls.mode}${tls.ca ? '' : ' without tls.ca'}` : 'no tls setting'}: set tls: { mode: verify-full, ca: <${caBundle(service)}> }`,
  };
}
