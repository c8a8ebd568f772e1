/** The operator's catalog after validation (src/config/catalog.ts builds it). Pure data. */

export type EngineName = 'postgres' | 'mysql';

/** Guard-rails applied to every user of a level. Durations are in milliseconds. */
export interface GuardRails {
  statementTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  /** Maximum concurrent sessions of the issued user. */
  connectionLimit: number;
}

/**
 * An access level. `roles`: membership in roles that already exist on the target (recommended; cleaned up by
 * DROP ROLE/USER alone). `grants`: single GRANT statements with `{{user}}` standing for the quoted user name.
 */
export interface AccessLevel {
  name: string;
  roles: readonly string[];
  grants: readonly string[];
  guardRails: GuardRails;
  /** Approvals this level needs; the database's approval.required when absent. */
  required?: number;
  /** At expiry, objects the user created are dropped with it, or handed to an existing role first. */
  onExpiry?: 'drop' | { reassignTo: string };
  /** Every statement the issued user runs is logged by the target server (PostgreSQL log_statement, MariaDB
   *  server_audit); MySQL 8 has no such per-account switch and refuses it. */
  auditStatements?: boolean;
}

/** `true`: on call in any on-call source among the database's approvers. */
export type OnCallRef =
  | true
  | { pagerduty: { schedule?: string; escalationPolicy?: string; level?: number } }
  | { opsgenie: { schedule: string } };

export interface AutoApproveRule {
  levels?: readonly string[];
  maxDurationMs?: number;
  requesterOnCall?: OnCallRef;
  requesterInGroup?: string;
  /** Only for a requester responding to the request's incident (assigned to it or having acknowledged it). */
  whenResponding?: true;
  /** Auto-approvals per person per rolling day under this database. */
  budget: number;
}

export interface BreakGlass {
  users: readonly string[];
  alertChannel?: string;
  /** Teams channel id for the alert (default: the database's teamsChannel). */
  teamsAlertChannel?: string;
  maxDurationMs: number;
  reviewWithinMs: number;
}

export interface EscalationTier {
  afterMs: number;
  approvers: readonly ApproverSource[];
}

export interface TargetAdmin {
  user: string;
  /** Exactly one of password and passwordFile. */
  password?: string;
  /** Read again at every new connection, so a rotated secret is used without a restart. */
  passwordFile?: string;
}

export type TlsMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

/** The protection of the broker's connections to a target, and of what people are handed. */
export interface TargetTls {
  mode: TlsMode;
  /** Path of a PEM bundle of trusted CAs. */
  ca?: string;
}

export interface DatabaseEntry {
  /** What people type: `[a-z0-9-]+`. */
  name: string;
  description?: string;
  engine: EngineName;
  host: string;
  port: number;
  /** Database named in the handed-out connection string; PostgreSQL also runs templated grants in it. */
  database: string;
  /** Host and port handed to people, when they differ from the ones the broker uses. */
  publicHost?: string;
  publicPort?: number;
  admin: TargetAdmin;
  /** Absent: the driver's default (no TLS), and `check` warns when the host is not on loopback. */
  tls?: TargetTls;
  levels: ReadonlyMap<string, AccessLevel>;
  /** Milliseconds. */
  maxDuration: number;
  /** MySQL/MariaDB: schema owned by the broker for its marker table and backstop events. */
  brokerSchema: string;
  /** reveal: chat shows a button that rotates and shows the password; message: the password is in the DM text
   *  and edited out at expiry. */
  delivery: 'reveal' | 'message';
  approval: {
    required: number;
    /** A request nobody decided within this many milliseconds expires. */
    timeoutMs: number;
    slackChannel?: string;
    teamsChannel?: string;
    approvers: readonly ApproverSource[];
    escalation: readonly EscalationTier[];
    autoApprove: readonly AutoApproveRule[];
    breakGlass?: BreakGlass;
  };
  limits: {
    activeGrantsPerPerson: number;
    pendingRequestsPerPerson: number;
    /** Extensions a holder may apply to their own grant without approval (absent: 0). */
    selfExtensions?: number;
    /** Milliseconds a grant may run from activation, extensions included (absent: 3 × maxDuration). */
    maxLifetime?: number;
  };
}

export type ApproverSource =
  | { email: string }
  | { slackUser: string }
  | { slackUsergroup: string }
  | { pagerduty: { schedule?: string; escalationPolicy?: string; level?: number } }
  | { opsgenie: { schedule: string } };

/** One database of a bundle, at one of its levels. */
export interface BundleMember {
  database: string;
  level: string;
}

/**
 * Several databases asked for in one request (`<bundle> <duration> <reason…>`), decided once by the bundle's own
 * approval block; each member is then a grant of its own on its own target. Bundle names share one namespace with
 * database names (the loader refuses a clash). Auto-approval and break-glass are per database: never on a bundle.
 */
export interface Bundle {
  /** What people type: `[a-z0-9-]+`, never a database's name. */
  name: string;
  description?: string;
  /** Each database once, each level defined on it (checked at load). */
  members: readonly BundleMember[];
  /** The longest duration a bundle request may ask for: the smallest maxDuration of its members. */
  maxDuration: number;
  approval: Omit<DatabaseEntry['approval'], 'autoApprove' | 'breakGlass'>;
}

/** Who decides requests made under a name: a database's approval block, or a bundle's. */
export interface ApprovalScope {
  name: string;
  approval: Pick<
    DatabaseEntry['approval'],
    'required' | 'timeoutMs' | 'slackChannel' | 'teamsChannel' | 'approvers' | 'escalation'
  >;
}

export interface Catalog {
  databases: ReadonlyMap<string, DatabaseEntry>;
  /** Absent or empty: the catalog defines no bundles. */
  bundles?: ReadonlyMap<string, Bundle>;
}

/**
 * Identifies the physical server a database lives on: DDL is serialised per server, since roles/users are
 * server-wide objects whose catalog rows collide under concurrency.
 */
export function serverKey(db: Pick<DatabaseEntry, 'engine' | 'host' | 'port'>): string {
  return `${db.engine}://${db.host}:${db.port}`;
}

/** The database or bundle people name with `name` (one namespace: the loader refuses a clash). */
export function approvalScopeOf(catalog: Catalog, name: string): ApprovalScope | undefined {
  return catalog.databases.get(name) ?? catalog.bundles?.get(name);
}
