/** The database part of the bundle README (markdown), for src/targets/readme to include. */
import type { Spec } from '../../spec/schema.js';
import { deploymentOf } from '../../model/index.js';
import { scriptView } from '../../model/view.js';
import { DCS_TIMING, STOCK_TIMING, dcsKind } from '../patroni/index.js';
import { patroniImage } from './containers.js';
import { dbHostFiles, dbTlsNames } from './hosts.js';
import { MEASURED_FAILOVER } from './measured.js';

const fmt = (t: [number, number, number] | null) => (t ? `${t[0]} / ${t[1]} / ${t[2]} s` : 'not measured');

/** database.tls: what the operator installs, and the names the server certificate must carry for verify-full clients. */
function tlsSection(spec: Spec): string {
  const d = spec.database;
  if (!d.tls) return '';
  return [
    '## Database TLS',
    '',
    `Every connection to PostgreSQL is TLS and verifies the server (\`sslmode=verify-full\`): the app's \`DATABASE_URL\`${d.ha === 'patroni' ? ', Patroni\'s replication and pg_rewind connections' : d.ha === 'streaming' ? ', the standbys\' streaming replication' : ''}. Install on every database server \`${d.certFile}\` and \`${d.keyFile}\` (readable by postgres only), and on every app and database server the CA that signed the certificate, \`${d.caFile}\` (the app's container gets it mounted read-only at the same path).`,
    '',
    `verify-full also checks that the certificate names the address the client dialled, so give each server certificate these subjectAltName entries (one certificate for all members, or one per member with its own address plus the endpoint addresses): ${dbTlsNames(spec).map((n) => `\`${n}\``).join(', ')}. The app reaches PostgreSQL through the database endpoint (HAProxy, TCP passthrough), so it sees PostgreSQL's certificate under the endpoint's address; that is why those addresses are in the list. For example: \`openssl req -new -key ${d.keyFile} -subj /CN=${spec.name}-db -addext "subjectAltName=${dbTlsNames(spec).map((n) => (/^[0-9.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')}"\`, signed by your CA.`,
    '',
  ].join('\n');
}

export function databaseReadmeSection(spec: Spec): string {
  const tls = tlsSection(spec);
  const rest = haSection(spec);
  return [tls, rest].filter(Boolean).join('\n');
}

function haSection(spec: Spec): string {
  const d = spec.database;
  if (d.ha === 'none') return '';
  const out: string[] = ['## Database high availability', ''];
  if (d.ha === 'streaming') {
    const f = dbHostFiles(spec);
    const where = spec.platform === 'hosts' ? { boot: f.bootstrap, promote: f.promote, mon: f.monitorSql } : { boot: 'postgres/replica-bootstrap.sh', promote: 'postgres/promote.sh', mon: 'postgres/monitor-replication.sql' };
    out.push(
      `Streaming replication: one primary and ${d.replicas} standby(s), each with its own replication slot, ${d.synchronous ? 'synchronous (a commit waits for a standby: no acknowledged write is lost, but commits wait while no standby is connected)' : 'asynchronous (a failover can lose the last writes a standby had not received)'}. Promotion is manual.`,
      '',
      `- A standby clones itself with \`${where.boot}\` (pg_basebackup -R -X stream -C -S <slot>) on its first start; run again it does nothing, and \`--reclone\` (for an old primary rejoining) refuses while a server runs on the data directory.`,
      `- Lag: \`psql -X -f ${where.mon}\` on the primary (bytes and seconds per standby from pg_stat_replication, and what each slot holds).`,
      `- Failover: stop the old primary for good first (two writable primaries lose writes), then run \`${where.promote}\` on the standby, point the app at it${spec.platform === 'hosts' ? ' (make it the first db host in the spec and redeploy)' : ''}, and rebuild the old primary with the bootstrap script and \`--reclone\`.`,
      '',
    );
    return out.join('\n');
  }
  const view = scriptView(spec);
  const dep = deploymentOf(spec);
  const eps = view.dbEndpoints.map((e) => `\`${e.host}:${e.port}\``);
  const onApp = spec.platform === 'hosts' && Object.entries(dep.dbWrite).every(([app, e]) => dep.hosts.find((h) => h.name === app)?.address === e.address);
  const endpoint = `${eps.join(', ')}${onApp ? ' (each app host connects to the endpoint on its own address, so no other host\'s loss cuts it off from the leader)' : ''}`;
  const members = view.db.map((m) => `${m.address}:${d.port}`).join(',');
  const t = spec.platform === 'hosts' ? { db: view.db, etcd: view.etcd } : null;
  out.push(
    `Patroni ${d.patroniVersion} runs ${t ? t.db.length : d.replicas + 1} PostgreSQL members and fails over automatically; its leader lock lives in ${t ? t.etcd.length : d.etcdMembers} etcd member(s) (a majority must be up). DCS API: ${dcsKind(spec) === 'etcd' ? '`etcd` (v2, etcd started with enable-v2): Patroni before 3.0.3 with `etcd3` lets a hung leader take the leader key back when it resumes (patroni PR #2689), which lost acknowledged writes in our tests; set `database.patroniVersion` to 3.0.3 or later for etcd3' : '`etcd3`'}.`,
    '',
    `**The app reaches the database only through the endpoint** ${endpoint} (DATABASE_URL points there): an HAProxy that sends writes to the member whose Patroni REST API answers 200 on \`/primary\` (port ${d.endpointPorts.write}), reads to replicas via \`/replica\` with the primary as fallback (port ${d.endpointPorts.read}), and shuts sessions on a member marked down. Stats: port ${d.endpointPorts.stats} (user admin, HAPROXY_STATS_PASSWORD).`,
    '',
    `Alternative without the endpoint: libpq multi-host, \`postgres://${d.user}:PASSWORD@${members}/${d.name}?target_session_attrs=read-write\` (the client tries each member and keeps the writable one). Use it only with a working watchdog (\`database.watchdog: required\`, softdog loaded): when Patroni dies or hangs its PostgreSQL stays writable, and clients that pick "the writable one" keep writing there; those writes are lost when it rejoins (we lost 105-260 rows that way).`,
    '',
    `Timing (bootstrap.dcs, applied when the cluster is created; later \`patronictl edit-config\`${spec.platform === 'hosts' ? ', which a re-run of deploy.sh does when patroni.yml changed' : ''}): ttl ${DCS_TIMING.ttl}, loop_wait ${DCS_TIMING.loop_wait}, retry_timeout ${DCS_TIMING.retry_timeout} (Patroni stock: ${STOCK_TIMING.ttl} / ${STOCK_TIMING.loop_wait} / ${STOCK_TIMING.retry_timeout}).`,
    '',
    `Measured recovery (RTO: seconds until writes succeed again through the endpoint, min / median / max; ${MEASURED_FAILOVER.setup}):`,
    '',
    '| fault | ha-gen timing (runs that failed over) | Patroni stock timing | acknowledged writes lost |',
    '|---|---|---|---|',
    ...MEASURED_FAILOVER.figures.map((f) => `| ${f.fault} | ${fmt(f.ours)} (${f.runs}) | ${fmt(f.stock)} | ${f.lostWrites} |`),
    '',
    MEASURED_FAILOVER.caveat,
    '',
    `RPO: ${MEASURED_FAILOVER.rpo} This bundle: ${d.synchronous ? 'synchronous' : 'asynchronous'}.`,
    '',
  );
  if (spec.platform !== 'hosts') {
    out.push(`Containers: there is no official \`patroni/patroni\` image. \`patroni/Dockerfile\` builds \`${patroniImage(spec)}\` from the official \`postgres:${d.version}\` image plus Patroni ${d.patroniVersion} from PyPI${spec.platform === 'swarm' ? '; build it and push it to a registry every node can pull from before deploying' : ' (`docker compose build`)'}.`, '');
  }
  return out.join('\n');
}
