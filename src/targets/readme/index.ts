import source from '../../../templates/readme/README.md.hbs?raw';
import type { Spec } from '../../spec/schema.js';
import { TIER_SUMMARY } from '../../spec/presets.js';
import { COLLAPSE_AT } from '../../plan/format.js';
import { header, type RenderContext } from '../../render/context.js';
import type { Bundle, BundleBuilder } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { LB_HEALTH_PATH } from '../../model/constants.js';
import { planReadmeSection } from '../ops/index.js';
import { databaseReadmeSection } from '../postgres/readme.js';

/** What each generated file is, for the README's file table; ports come from the spec. */
const what = (spec: Spec): Array<[RegExp, string]> => [
  [/^docker-compose\.yml$/, 'Compose file: app instances, PostgreSQL, load balancer'],
  [/^stack\.yml$/, 'Swarm stack file'],
  [/nginx\.conf$/, 'nginx load balancer configuration (complete main file)'],
  [/haproxy\.cfg$/, 'HAProxy configuration'],
  [/Caddyfile$/, 'Caddy configuration'],
  [/postgresql\.conf$/, 'PostgreSQL server configuration'],
  [/pg_hba\.conf$/, 'PostgreSQL client authentication (scram-sha-256)'],
  [/app-role\.psql$/, 'SQL creating the app\'s role and database (psql variables, quoted)'],
  [/10-app-role\.sh$/, 'First-start hook of the postgres image that runs app-role.psql'],
  [/patroni\.yml$/, 'Patroni configuration of this member (passwords come from PATRONI_* variables)'],
  [/etcd\.conf\.yml$/, 'etcd member configuration (the DCS Patroni elects its leader in)'],
  [/haproxy-db\.cfg$/, `Database endpoint: HAProxy routing ${spec.database.endpointPorts.write} to the Patroni leader, ${spec.database.endpointPorts.read} to replicas`],
  [/Dockerfile$/, 'Image build file'],
  [/replica-bootstrap\.sh$/, 'Clones a standby from the primary (pg_basebackup with a slot); idempotent'],
  [/promote\.sh$/, 'Promotes this standby to primary'],
  [/monitor-replication\.sql$/, 'Replication state and lag in bytes and seconds'],
  [/RUNBOOK\.md$/, 'Disaster-recovery runbook with this bundle\'s commands'],
  [/pgbackrest\.conf$/, 'pgBackRest configuration (WAL archive and base backups)'],
  [/\.timer$/, 'systemd timer (schedule)'],
  [/\.mount$/, 'systemd mount unit (shared uploads)'],
  [/\.tf\.json$/, 'DNS failover records (Terraform JSON)'],
  [/loadtest\.js$/, 'k6 load test through the load balancer'],
  [/\.service$/, 'systemd unit'],
  [/\.sh$/, 'script'],
  [/\.sql$/, 'SQL'],
  [/^\.env\.example$/, 'Names of the secrets kept in .env'],
  [/^\.gitignore$/, 'Keeps .env out of git'],
];

/**
 * One row per file, except that a file repeated on more than COLLAPSE_AT hosts (the app unit on
 * every app host) is one row, `hosts/<host>/...`, with how many hosts and the first two.
 */
function fileRows(spec: Spec, paths: string[]): Array<{ path: string; what: string }> {
  const table = what(spec);
  const describe = (p: string) => table.find(([re]) => re.test(p))?.[1] ?? 'generated file';
  const HOST = /(^|\/)hosts\/([^/]+)\//;
  const key = (p: string) => p.replace(HOST, '$1hosts/<host>/');
  const groups = new Map<string, string[]>();
  for (const p of paths) {
    const k = key(p);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(p);
  }
  const rows: Array<{ path: string; what: string }> = [];
  const shown = new Set<string>();
  for (const p of paths) {
    const k = key(p);
    const g = groups.get(k)!;
    if (g.length <= COLLAPSE_AT) rows.push({ path: p, what: describe(p) });
    else if (!shown.has(k)) {
      shown.add(k);
      const host = (x: string) => HOST.exec(x)![2];
      rows.push({ path: k, what: `${describe(p)} on ${g.length} hosts (${host(g[0]!)}, ${host(g[1]!)}, …)` });
    }
  }
  return rows;
}


export function renderReadme(spec: Spec, ctx: RenderContext, b: BundleBuilder, listing: Pick<Bundle, 'files' | 'certs'>): void {
  const paths = [...listing.files.keys()];
  const t = TIER_SUMMARY[spec.tier];
  const protects = [
    `an app instance crashing, hanging or being replaced: ${spec.app.replicas} instances behind ${spec.loadBalancer.kind}, which stops sending to a failed one within about 2 seconds`,
    'a rolling restart of the app: instances are replaced one at a time while the others serve',
  ];
  const gaps: string[] = [];
  if (spec.platform === 'compose') {
    gaps.push('the server itself failing (hardware, kernel, Docker, disk): everything runs on one host; choose tier multi-server for that');
  }
  if (spec.database.ha === 'none') {
    gaps.push('the database failing: there is one PostgreSQL; the app is down until it restarts (Docker restarts it automatically after a crash)');
  } else {
    protects.push(`the database primary failing: ${spec.database.ha === 'patroni' ? 'Patroni promotes a standby automatically' : 'a streaming standby can be promoted with one script'}`);
  }
  if (spec.storage.kind === 'local') gaps.push('losing the uploads volume: back it up (it lives on this host only)');
  gaps.push('deleting data by mistake: replication copies mistakes too; backups and WAL archiving are the protection');

  const startSteps =
    spec.platform === 'compose'
      ? ['Install Docker Engine with the compose plugin on the server.', 'Copy this folder to the server (keep `.env` next to `docker-compose.yml`).', '`docker compose up -d` — then `docker compose ps` until every service is healthy.']
      : spec.platform === 'swarm'
        ? ['Create the swarm (`docker swarm init`, then join the other nodes). The stack\'s `data` and `db` overlay networks are encrypted (IPsec): besides 2377/tcp, 7946/tcp+udp and 4789/udp, ESP (IP protocol 50) must pass between the nodes. The load balancer is on `edge` only and the app on `edge` and `data`: neither is on `db`, the database tier\'s own network (replication, etcd).', 'Label the nodes on a manager: `./deploy.sh label NODE ROLE...` (`./deploy.sh --help` lists the roles).', '`./deploy.sh up`: creates the Swarm secrets from `.env` and deploys the stack; `./deploy.sh status` shows it.']
        : ['Run `./deploy.sh HOST` for each host in the order the script prints (database first, load balancers last).'];

  b.add(
    'README.md',
    renderTemplate(source, {
      header: header(ctx, 'md').trimEnd(),
      name: spec.name,
      tierTitle: spec.tier.replace('-', ' '),
      version: ctx.version,
      specFile: ctx.specFile,
      tier: spec.tier,
      platform: spec.platform,
      lb: spec.loadBalancer.kind,
      dbMode: { none: 'one PostgreSQL server', streaming: 'primary + streaming replica', patroni: 'Patroni cluster with etcd' }[spec.database.ha],
      storage: spec.storage.kind,
      availability: t.availability,
      downtime: t.downtime,
      files: fileRows(spec, paths.filter((p) => p !== 'README.md')),
      startSteps: startSteps,
      secretsNote:
        spec.platform === 'swarm'
          ? 'On Swarm, `./deploy.sh up` turns the database, Patroni, HAProxy and MinIO passwords into Swarm secrets: files under `/run/secrets` in the services that need them, read through `*_FILE` variables or exported by `docker/secrets-env.sh` just before the image\'s own command, so they are not in `docker service inspect`. The app\'s `JWT_SECRET` and `DATABASE_URL` (and its S3 keys) stay environment variables: an arbitrary app image reads them only from its environment (no `*_FILE` support), so whoever can use the Docker API on a manager can read them there; if your app can read a file, mount them as secrets instead.'
          : spec.platform === 'compose'
            ? 'On compose the passwords reach the containers as environment variables interpolated from `.env`: on this one server, whoever can use the Docker socket (`docker inspect`) can read them, as they can read `.env` itself (that access is root on the host). They are never on a command line.'
            : '',
      httpPort: spec.loadBalancer.httpPort,
      lbHealthPath: LB_HEALTH_PATH,
      healthPath: spec.app.healthPath,
      protects,
      gaps,
      pki: listing.certs.length > 0,
      containers: spec.platform !== 'hosts',
      swarm: spec.platform === 'swarm',
      regional: spec.tier === 'multi-region',
    }) +
      // the database endpoint, failover figures and caveats (targets/postgres), then the plan
      // summary and topology diagram (targets/ops)
      [databaseReadmeSection(spec), planReadmeSection(spec)].filter(Boolean).map((x) => `\n${x}`).join(''),
  );
}
