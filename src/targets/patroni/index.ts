/** patroni.yml per database member, built as an object; the DCS backend follows the Patroni version. */
import type { Spec } from '../../spec/schema.js';
import { patroniPgParameters, walLevel } from '../postgres/index.js';
import { PATRONI_SECRETS } from '../postgres/secrets.js';

export { DCS_TIMING, STOCK_TIMING, DCS_TIMING_WHY } from './timing.js';
import { DCS_TIMING } from './timing.js';
import { ETCD_CLIENT_PORT, PATRONI_REST_PORT } from '../../model/constants.js';

export { ETCD_CLIENT_PORT, ETCD_PEER_PORT, PATRONI_REST_PORT as RESTAPI_PORT } from '../../model/constants.js';
const RESTAPI_PORT = PATRONI_REST_PORT;

export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

/**
 * Which etcd API Patroni uses. Patroni < 3.0.3 with `etcd3:` lets a hung leader that resumes overwrite
 * the leader key (fixed by patroni PR #2689, in 3.0.3): acknowledged writes were lost here even in
 * synchronous mode. Its v2 `etcd:` backend did not show it, so older Patroni gets the v2 API.
 */
export function dcsKind(spec: Spec): 'etcd' | 'etcd3' {
  return versionAtLeast(spec.database.patroniVersion, '3.0.3') ? 'etcd3' : 'etcd';
}

export const DCS_COMMENT: Record<'etcd' | 'etcd3', string> = {
  etcd: 'DCS: the etcd v2 API (etcd runs with enable-v2). Patroni < 3.0.3 with `etcd3:` lets a hung leader take the leader key back when it resumes (fixed by patroni PR #2689 in 3.0.3); acknowledged writes were lost that way even with synchronous_mode. Set database.patroniVersion to 3.0.3 or later to get etcd3.',
  etcd3: 'DCS: the etcd v3 API (Patroni >= 3.0.3, where a resumed hung leader can no longer overwrite the leader key).',
};

export interface PatroniMember {
  name: string;
  /** Address the other members, HAProxy and etcd clients reach this member at. */
  connect: string;
  /** Address to bind (an IP, or 0.0.0.0 in containers). */
  listen: string;
}

export interface PatroniPaths {
  /** Script run once after the cluster is created (app role and database). */
  postBootstrap: string;
  dataDir: string;
  binDir: string;
  socketDir: string;
  pgpass: string;
}

/**
 * Patroni's certificate of the bundle's CA (platform hosts) and the CA it trusts: its client
 * certificate for etcd (client-cert-auth), and the server certificate of its REST API.
 */
export interface PatroniTls {
  ca: string;
  cert: string;
  key: string;
}

/** The .env names of Patroni's etcd user: the variables Patroni reads for its `etcd`/`etcd3` section. */
export const etcdUserVars = (spec: Spec) => {
  const p = `PATRONI_${dcsKind(spec).toUpperCase()}`;
  return { user: `${p}_USERNAME`, password: `${p}_PASSWORD`, protocol: `${p}_PROTOCOL` };
};

/** patroni.yml for one member (no secrets: users and passwords come from PATRONI_* variables). */
export function patroniConfig(spec: Spec, m: PatroniMember, etcdHosts: string[], p: PatroniPaths, hba: string[], tls?: PatroniTls): Record<string, unknown> {
  const d = spec.database;
  const kind = dcsKind(spec);
  // username, password: PATRONI_ETCD(3)_USERNAME / _PASSWORD (etcd's `patroni` user).
  const dcsTls = tls ? { protocol: 'https', cacert: tls.ca, cert: tls.cert, key: tls.key } : { protocol: 'http' };
  return {
    scope: spec.name,
    namespace: '/service/',
    name: m.name,
    restapi: {
      listen: `${m.listen}:${RESTAPI_PORT}`,
      connect_address: `${m.connect}:${RESTAPI_PORT}`,
      // authentication (username, password): PATRONI_RESTAPI_USERNAME / PATRONI_RESTAPI_PASSWORD.
      ...(tls ? restapiTls(tls) : {}),
    },
    ...(tls ? { ctl: { cacert: tls.ca, certfile: tls.cert, keyfile: tls.key, insecure: false } } : {}),
    [kind]: { hosts: etcdHosts.map((h) => `${h}:${ETCD_CLIENT_PORT}`), ...dcsTls },
    bootstrap: {
      // Applied only when the cluster is first created; later: patronictl edit-config.
      dcs: {
        ...DCS_TIMING,
        maximum_lag_on_failover: 1048576,
        failsafe_mode: true,
        synchronous_mode: d.synchronous,
        synchronous_mode_strict: false,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          // Patroni takes these from the DCS only (a local value is ignored): wal_level logical for a
          // multi-region primary region goes here, or `patronictl edit-config` on a running cluster.
          parameters: { wal_level: walLevel(spec), hot_standby: 'on', wal_log_hints: 'on', max_wal_senders: patroniPgParameters(spec, p.socketDir).max_wal_senders, max_replication_slots: patroniPgParameters(spec, p.socketDir).max_replication_slots, max_connections: 200 },
        },
      },
      post_bootstrap: p.postBootstrap,
      initdb: [{ encoding: 'UTF8' }, { locale: 'C.UTF-8' }, 'data-checksums', { 'auth-host': 'scram-sha-256' }, { 'auth-local': 'peer' }],
      pg_hba: hba,
    },
    postgresql: {
      listen: `${m.listen}:${d.port}`,
      connect_address: `${m.connect}:${d.port}`,
      data_dir: p.dataDir,
      bin_dir: p.binDir,
      pgpass: p.pgpass,
      use_unix_socket: true,
      use_pg_rewind: true,
      remove_data_directory_on_rewind_failure: true,
      // A new standby clones at once instead of waiting for the primary's next scheduled checkpoint.
      basebackup: [{ checkpoint: 'fast' }],
      // authentication (superuser, replication, rewind): PATRONI_SUPERUSER_*, PATRONI_REPLICATION_*, PATRONI_REWIND_*;
      // with database.tls each connection to another member verifies it (the user names are the .env defaults, the environment wins).
      ...(d.tls ? { authentication: dbTlsAuthentication(spec) } : {}),
      parameters: patroniPgParameters(spec, p.socketDir),
      // Here rather than in bootstrap only, so that a changed inventory reaches every member (Patroni #2906).
      pg_hba: hba,
    },
    // Fences PostgreSQL when Patroni hangs or dies: the kernel reboots the node if Patroni stops
    // feeding /dev/watchdog (softdog). automatic: used when present, never required by default.
    watchdog: { mode: d.watchdog, device: '/dev/watchdog', safety_margin: 5 },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
}

/**
 * The REST API over TLS: HAProxy's checks and Prometheus read it with the CA only (safe methods
 * stay open, as health checks need); a change (POST/PUT/PATCH/DELETE: switchover, restart,
 * reinitialize) needs both a client certificate of the bundle's CA (verify_client: optional asks
 * for one on those methods only) and the Basic-auth password, which no longer travels in clear.
 */
function restapiTls(tls: PatroniTls): Record<string, string> {
  return { certfile: tls.cert, keyfile: tls.key, cafile: tls.ca, verify_client: 'optional' };
}

/** pg_hba lines without comments, for Patroni's postgresql.pg_hba. */
export function hbaLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.replace(/\s+/g, ' '));
}

/** Patroni's connections to other members (replication, pg_rewind; the superuser's are local) verify the server: verify-full against database.caFile. */
function dbTlsAuthentication(spec: Spec): Record<string, Record<string, string>> {
  const tls = { sslmode: 'verify-full', sslrootcert: spec.database.caFile };
  return {
    superuser: { username: PATRONI_SECRETS.superUser.value, ...tls },
    replication: { username: PATRONI_SECRETS.replUser.value, ...tls },
    rewind: { username: PATRONI_SECRETS.rewindUser.value, ...tls },
  };
}
