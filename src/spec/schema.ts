/**
 * The ha-gen.yaml v1 schema: the public contract of the spec file (see contract.md).
 * Every string that can reach a generated file is constrained here to a form that is
 * data in every output format (no quotes, braces, semicolons, whitespace or newlines).
 */
import { z } from 'zod';
import { BACKUP_REPOSITORIES, DB_HA, FORMS, HEALTHCHECK_TOOLS, DB_ENDPOINT_PLACEMENTS, LB_KINDS, LB_POLICIES, PLATFORMS, ROLES, SPEC_VERSION, STORAGE_KINDS, TIERS, TLS_MODES, WEEKDAYS, type FormName } from './enums.js';

// One parse per run: zod's JIT (a parser compiled with new Function per object schema, plus a probe
// for eval) costs more than it saves there: -30 M of ~1 560 M instructions (callgrind, 3 runs each).
z.config({ jitless: true });

// The version, value forms and enums live in enums.ts (no zod); re-exported here, where they always were.
export * from './enums.js';

// ---- value forms as zod strings -----------------------------------------------------------------
export const str = (form: FormName) =>
  z.string().regex(FORMS[form].re, { message: `must be ${FORMS[form].text}` });

const port = (_what: string) =>
  z.number({ message: 'must be a port number from 1 to 65535' }).int({ message: 'must be a whole port number from 1 to 65535' }).min(1, { message: 'must be a port number from 1 to 65535' }).max(65535, { message: 'must be a port number from 1 to 65535' });

// ---- the spec ------------------------------------------------------------------------------------
const appSchema = z
  .object({
    image: str('image').default('ghcr.io/victorytek/home-registry:latest').describe('Container image of the app. Pin a tag or digest in production.'),
    port: port('app.port').default(8210).describe('Port the app listens on inside its container or host.'),
    healthPath: str('urlPath').default('/health').describe('HTTP path that answers 200 while the instance can serve.'),
    replicas: z.number().int().min(1).max(1000).default(2).describe('App instances. Tier default: 2 (single-server), 3 (multi-server, and per region for multi-region). Hosts platform: one instance per `app` host.'),
    uploadsPath: str('absPath').default('/app/uploads').describe('Path inside the app container where uploads are stored (the shared volume is mounted there).'),
    dataPath: str('absPath').default('/app/data').describe('Path inside the app container for other app data (a per-instance volume).'),
    maxBodySize: str('size').default('50m').describe('Largest request body (upload) the load balancer passes to the app.'),
    stopGracePeriod: z.number().int().min(1).max(600).default(30).describe('Seconds an instance gets to finish in-flight requests when stopped.'),
    healthcheckTool: z.enum(HEALTHCHECK_TOOLS).default('curl').describe('Program inside the app image used for the container healthcheck (none: rely on the load balancer checks).'),
    env: z.record(str('envName'), str('envValue')).default({ RUST_LOG: 'info' }).describe('Extra non-secret environment variables for every app instance.'),
  })
  .strict();

const loadBalancerSchema = z
  .object({
    kind: z.enum(LB_KINDS).default('nginx').describe('Reverse proxy / load balancer in front of the app: nginx | haproxy | caddy.'),
    policy: z.enum(LB_POLICIES).default('least-conn').describe('How requests are spread over app instances.'),
    httpPort: port('loadBalancer.httpPort').default(80).describe('Public HTTP port.'),
    httpsPort: port('loadBalancer.httpsPort').default(443).describe('Public HTTPS port (used when tls is not none).'),
    tls: z.enum(TLS_MODES).default('none').describe('none: plain HTTP (behind another proxy); files: certificate and key paths below; acme: automatic certificates (needs domain).'),
    certFile: str('absPath').default('/etc/ssl/certs/ha-gen.crt').describe('Certificate chain (PEM) for tls: files, as seen by the load balancer.'),
    keyFile: str('absPath').default('/etc/ssl/private/ha-gen.key').describe('Private key (PEM) for tls: files, as seen by the load balancer.'),
    acmeEmail: str('email').optional().describe('Contact e-mail for ACME (Let\'s Encrypt) registration.'),
    statsPort: port('loadBalancer.statsPort').default(8404).describe('HAProxy stats page port (password in .env), bound to the LB host only.'),
    floatingAddress: str('ipv4').optional().describe('One IPv4 address moved between the lb hosts by keepalived (VRRP, unicast peers): clients and DNS use it, and losing an lb host moves it to another within seconds. Needs L2 between the lb hosts (most public clouds drop VRRP: use the provider\'s load balancer or a DNS failover record there). Multi-region: per region, regions[].floatingAddress.'),
    floatingInterface: str('interfaceName').default('eth0').describe('The lb hosts\' interface that carries the floating address.'),
    vrrpRouterId: z.number().int().min(1).max(255).default(51).describe('VRRP virtual_router_id of the floating address: unique among the VRRP groups of that network.'),
  })
  .strict();

const databaseSchema = z
  .object({
    ha: z.enum(DB_HA).default('none').describe('none: one PostgreSQL; streaming: primary + streaming replicas (manual promotion); patroni: automatic failover with Patroni + etcd.'),
    version: z.number().int().min(13).max(18).default(17).describe('PostgreSQL major version; image tags and /usr/lib/postgresql/<v>/bin follow it.'),
    name: str('dbIdent').default('home_inventory').describe('Database the app uses.'),
    user: str('dbIdent').default('app').describe('Role the app connects as (owner of the database, not a superuser).'),
    replicas: z.number().int().min(1).max(9).default(1).describe('Standby servers for streaming/patroni (compose/swarm); on hosts every `db` host beyond the first is one.'),
    synchronous: z.boolean().default(false).describe('Synchronous replication: no acknowledged write is lost on failover, at the cost of commit latency.'),
    patroniVersion: z.string().regex(/^[0-9]+\.[0-9]+\.[0-9]+$/, { message: 'must be a version such as 3.0.2' }).default('3.0.2').describe('Patroni version the hosts run (Debian 12 ships 3.0.2); the DCS settings are chosen to be safe for it.'),
    port: port('database.port').default(5432).describe('PostgreSQL port.'),
    allowedCidrs: z.array(str('cidr')).default([]).describe('Extra client networks allowed to connect (pg_hba), besides the app and database hosts.'),
    tls: z.boolean().default(false).describe('TLS for database connections: ssl = on and hostssl lines in pg_hba (certFile/keyFile must exist on every database server).'),
    certFile: str('absPath').default('/etc/ssl/certs/ha-gen-db.crt').describe('Server certificate (PEM) PostgreSQL uses when database.tls is true.'),
    keyFile: str('absPath').default('/etc/ssl/private/ha-gen-db.key').describe('Server private key (PEM, readable by postgres only) when database.tls is true.'),
    caFile: str('absPath').default('/etc/ssl/certs/ha-gen-db-ca.crt').describe('CA certificate (PEM) that signed certFile, when database.tls is true: the app (DATABASE_URL sslmode=verify-full), Patroni and standbys verify the server with it; it must exist at this path on every app and database server.'),
    etcdMembers: z.number().int().min(1).max(7).default(3).describe('etcd members for Patroni on compose/swarm (3 survives one loss); on hosts the `etcd` hosts are the members.'),
    endpointPorts: z.object({ write: port('database.endpointPorts.write').default(5000), read: port('database.endpointPorts.read').default(5001), stats: port('database.endpointPorts.stats').default(7000) }).strict().prefault({}).describe('Ports of the database endpoint (HAProxy) for Patroni: writes to the leader, reads to replicas, stats page.'),
    endpoint: z.enum(DB_ENDPOINT_PLACEMENTS).default('app-hosts').describe('Platform hosts with Patroni: where the database endpoint (HAProxy routing to the leader) runs. app-hosts: on every app host, and each app connects to its own host, so no other host\'s loss cuts it off from the leader; lb-hosts: on the lb hosts (the app connects to the first one: a single point of failure until a floating address is in front of them).'),
    watchdog: z.enum(['off', 'automatic', 'required']).default('automatic').describe('Patroni watchdog (softdog) that fences a hung Patroni\'s PostgreSQL: automatic uses /dev/watchdog when present; required refuses to lead without it.'),
  })
  .strict();

const storageSchema = z
  .object({
    kind: z.enum(STORAGE_KINDS).default('local').describe('Where uploads live: local (one server only) | nfs | s3 (MinIO) | glusterfs.'),
    nfsServer: str('address').default('nfs-server').describe('NFS server address (storage: nfs) when the inventory has no `storage` host.'),
    nfsExport: str('absPath').default('/exports/home-registry/uploads').describe('Exported directory on the NFS server.'),
    uid: z.number().int().min(1).max(65534).default(10001).describe('Dedicated uid/gid that owns the shared uploads (instead of chmod 777).'),
    bucket: str('hostName').default('uploads').describe('S3 bucket for uploads (storage: s3).'),
    s3Region: str('hostName').default('us-east-1').describe('Region name the app\'s S3 client signs requests with (MinIO accepts any; us-east-1 is its default).'),
    servers: z.array(str('address')).max(64).default([]).describe('GlusterFS servers (storage: glusterfs) when the inventory has no `storage` hosts (compose/swarm); default gluster1, gluster2, gluster3.'),
  })
  .strict();

const backupSchema = z
  .object({
    repository: z.enum(BACKUP_REPOSITORIES).default('local').describe('Where pgBackRest keeps base backups and archived WAL: local (a folder on the database host, or a volume) | s3 (the bundle\'s MinIO, needs storage s3).'),
    path: str('absPath').default('/var/lib/pgbackrest').describe('Repository folder (local), or the path inside the bucket (s3).'),
    bucket: str('hostName').default('pgbackrest').describe('S3 bucket of the repository (repository: s3).'),
    time: z.string().regex(/^(?:[01][0-9]|2[0-3]):[0-5][0-9]$/, { message: 'must be a time of day HH:MM (24 h, UTC), e.g. 01:30' }).default('01:30').describe('Time of day (UTC) of the scheduled base backup; the logical dump runs one hour later.'),
    full: z.enum(['daily', 'weekly']).default('weekly').describe('How often a full base backup is taken; the other days take a differential one.'),
    weekday: z.enum(WEEKDAYS).default('sun').describe('Day of the weekly full backup.'),
    retentionFull: z.number().int().min(1).max(100).default(2).describe('Full backups kept (pgBackRest repo1-retention-full); WAL older than the oldest kept backup is expired.'),
    retentionDiff: z.number().int().min(1).max(100).default(7).describe('Differential backups kept (repo1-retention-diff).'),
    dumpDays: z.number().int().min(1).max(3650).default(7).describe('Days of daily logical dumps (pg_dump) kept.'),
    archiveTimeout: z.number().int().min(10).max(3600).default(60).describe('Seconds after which a partly filled WAL segment is archived anyway: the most data a lost database server can take with it.'),
    image: str('image').optional().describe('PostgreSQL image with pgBackRest (compose/swarm); default: built from backup/Dockerfile. Swarm needs it pushed to a registry.'),
  })
  .strict();

const firewallSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Platform hosts: an nftables ruleset per host that lets in exactly the connections of the deployment (plan --json flows) plus SSH from adminCidrs, and drops the rest; deploy.sh applies it first on each host (as at boot), with a rollback timer.'),
    adminCidrs: z.array(str('cidr')).min(1).max(64).default(['0.0.0.0/0']).describe('Networks allowed to reach SSH on every host (where you run deploy.sh from). Narrow it: the default lets SSH in from anywhere.'),
    sshPort: port('firewall.sshPort').default(22).describe('SSH port of the hosts.'),
  })
  .strict();

const monitoringSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Prometheus, Alertmanager, exporters and alert rules for every service of the bundle. Tier default: on for multi-server and multi-region (two Prometheus and two Alertmanager peers on different hosts), off for single-server (one of each when turned on).'),
    scrapeInterval: z.number().int().min(5).max(300).default(15).describe('Seconds between scrapes of every target (and between probes of the front door and the app instances).'),
    evaluationInterval: z.number().int().min(5).max(300).default(15).describe('Seconds between evaluations of the alert rules.'),
    groupWait: z.number().int().min(0).max(600).default(30).describe('Seconds Alertmanager waits to group the first alerts of a new group before it notifies.'),
    groupInterval: z.number().int().min(1).max(3600).default(300).describe('Seconds Alertmanager waits before it notifies about changes (new or resolved alerts) in a group it already notified.'),
    replicationLagMb: z.number().int().min(1).max(1048576).default(64).describe('Alert when a standby\'s replayed WAL is this many MiB behind the leader.'),
    slotRetainedMb: z.number().int().min(1).max(1048576).default(1024).describe('Alert when a replication slot keeps this many MiB of WAL on a database server.'),
    diskPercent: z.number().int().min(50).max(99).default(85).describe('Alert when a file system is fuller than this percentage.'),
    webhookUrl: str('webhookUrl').optional().describe('Where Alertmanager POSTs alerts (its webhook JSON), e.g. a chat relay. No query string; a password for it goes in .env (ALERT_WEBHOOK_PASSWORD) with webhookUser.'),
    webhookUser: str('dbIdent').optional().describe('Basic-auth user for webhookUrl; the password is ALERT_WEBHOOK_PASSWORD in .env.'),
    email: z
      .object({
        smarthost: str('address').describe('SMTP relay host name or IPv4 address.'),
        port: port('monitoring.email.port').default(587).describe('SMTP relay port (587: submission with STARTTLS).'),
        from: str('email').describe('Sender address of alert e-mails.'),
        to: z.array(str('email')).min(1).max(20).describe('Recipients of alert e-mails.'),
        user: str('email').optional().describe('SMTP user name (often an e-mail address); the password is ALERT_SMTP_PASSWORD in .env.'),
        requireTls: z.boolean().default(true).describe('Refuse to send without STARTTLS.'),
      })
      .strict()
      .optional()
      .describe('An e-mail relay (smarthost) Alertmanager sends alerts through.'),
  })
  .strict();

const hostSchema = z
  .object({
    name: str('hostName').describe('Host name; also the folder hosts/<name>/ in the bundle.'),
    address: str('address').describe('IPv4 address the other hosts reach this one at: services bind to it, pg_hba and the firewall name it (platform hosts refuses a DNS name; IPv6 is not supported yet).'),
    roles: z.array(z.enum(ROLES)).min(1, { message: 'must list at least one role (lb, app, db, etcd, storage)' }).describe('What runs on the host: lb, app, db, etcd, storage.'),
    region: str('hostName').optional().describe('Region the host belongs to (multi-region).'),
  })
  .strict();

const regionSchema = z
  .object({
    name: str('hostName').describe('Region name, e.g. us-east.'),
    primary: z.boolean().default(false).describe('The region that runs the writable database (exactly one).'),
    domain: str('fqdn').optional().describe('Regional host name the global DNS failover points at (default <region>.<domain>).'),
    address: str('ipv4').optional().describe('Public IPv4 of the region\'s load balancer, for the DNS failover records (default: the first lb host of the region on platform hosts, else a documentation address to replace).'),
    floatingAddress: str('ipv4').optional().describe('This region\'s floating address on its lb hosts (as loadBalancer.floatingAddress, per region).'),
    dbAddress: str('address').optional().describe('Address the other regions reach this region\'s database at (the primary\'s, for logical replication). Default: the first db host of the region on platform hosts, else db.<region>.<name>.internal.'),
  })
  .strict();

const specShape = {
  version: z.literal(SPEC_VERSION, { message: `must be ${SPEC_VERSION}` }).default(SPEC_VERSION).describe('Spec file format version.'),
  name: str('name').default('home-registry').describe('Deployment name: stack, Patroni scope and file names derive from it.'),
  tier: z.enum(TIERS).default('single-server').describe('single-server (99%), multi-server (99.9%) or multi-region (99.99%), per the HA guide.'),
  platform: z.enum(PLATFORMS).default('compose').describe('compose: one Docker host; swarm: a Docker Swarm stack; hosts: VMs or bare metal with systemd. Tier default: compose (single-server), swarm (others).'),
  domain: str('fqdn').optional().describe('Public host name of the app (needed for tls: acme).'),
  app: appSchema.prefault({}),
  loadBalancer: loadBalancerSchema.prefault({}),
  database: databaseSchema.prefault({}),
  storage: z.preprocess((v) => (typeof v === 'string' ? { kind: v } : v), storageSchema.prefault({})).describe('Shared storage for uploads; a string is short for {kind: ...}.'),
  firewall: firewallSchema.prefault({}).describe('Host firewall from the deployment\'s flows (platform hosts).'),
  backup: backupSchema.prefault({}).describe('Backups: pgBackRest base backups + WAL archiving (point-in-time recovery) and daily logical dumps.'),
  monitoring: monitoringSchema.prefault({}).describe('Monitoring and alerting: Prometheus scraping every service, alert rules with promtool tests, Alertmanager sending to a webhook and/or e-mail.'),
  hosts: z.array(hostSchema).max(5000).default([]).describe('The inventory (required for platform hosts).'),
  regions: z.array(regionSchema).default([]).describe('Regions for tier multi-region (default: us-east primary and eu-west).'),
};

export const specSchema = z.object(specShape).strict();

export type Spec = z.output<typeof specSchema>;
export type SpecInput = z.input<typeof specSchema>;
export type Host = Spec['hosts'][number];

export function jsonSchema(): object {
  const schema = z.toJSONSchema(specSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/ha-gen/ha-gen/schema/ha-gen.schema.json',
    title: 'ha-gen.yaml',
    description: 'Spec file of ha-gen: a high-availability deployment bundle for a stateless web app backed by PostgreSQL.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}
