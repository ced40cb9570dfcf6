/**
 * Operating the bundle: backups (targets/backup), RUNBOOK.md with this bundle's commands and
 * RTO/RPO, smoke.sh, chaos scripts per platform and load tests (k6, ab).
 */
import type { Spec } from '../../spec/schema.js';
import { headerLines, header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { ETCD_CLIENT_PORT, LB_HEALTH_PATH } from '../../model/constants.js';
import { ETCD_TLS } from '../pki.js';
import { buildPlan, LB_DETECT_SECONDS, type Plan, type PlanOptions } from '../../plan/index.js';
import { scriptView, type ScriptView as Topology } from '../../model/view.js';
import { deploymentOf } from '../../model/index.js';
import { planMarkdown } from '../../plan/format.js';
import { alertDefs, ALERT_ACTIONS, runbookAnchor } from '../monitoring/rules.js';
import { ALERTMANAGER_PORT, PROMETHEUS_PORT } from '../../model/monitoring.js';
import { renderBackup, hostScripts, backupImage, backupOverride, backupServiceName, backupPaths, PGBACKREST_CONFIG, stanzaOf } from '../backup/index.js';
import { dbMemberNames } from '../../model/containers.js';
import { envFilePath } from '../systemd/index.js';
import { dbHostFiles } from '../postgres/hosts.js';
import smokeSrc from '../../../templates/ops/smoke.sh.hbs?raw';
import libSrc from '../../../templates/ops/chaos-lib.hbs?raw';
import killSrc from '../../../templates/ops/kill-app.sh.hbs?raw';
import partitionSrc from '../../../templates/ops/partition-app.sh.hbs?raw';
import stopDbSrc from '../../../templates/ops/stop-db-leader.sh.hbs?raw';
import fillSrc from '../../../templates/ops/fill-disk.sh.hbs?raw';
import hostFaultSrc from '../../../templates/ops/host-fault.sh.hbs?raw';
import k6Src from '../../../templates/ops/loadtest.js.hbs?raw';
import abSrc from '../../../templates/ops/ab.sh.hbs?raw';

const shell = { mode: 0o755, checks: [{ tool: 'shell' as const }] };

/** Members an operator (or smoke.sh) asks "are you the primary?": addresses on hosts, services in containers. */
function dbMembers(t: Topology): string[] {
  return t.platform === 'hosts' ? t.db.map((m) => m.address) : t.db.map((m) => m.name);
}

function model(spec: Spec, ctx: RenderContext, t: Topology, plan: Plan) {
  const isHosts = spec.platform === 'hosts';
  const lbHost = isHosts ? (t.lbAddresses[0] ?? 'localhost') : 'localhost';
  const patroni = spec.database.ha === 'patroni';
  return {
    header: header(ctx).trimEnd(),
    jsHeader: headerLines(ctx).map((l) => `// ${l}`).join('\n'),
    name: spec.name,
    platform: spec.platform,
    isHosts,
    isCompose: spec.platform === 'compose',
    isSwarm: spec.platform === 'swarm',
    replication: spec.database.ha !== 'none',
    patroni,
    automatic: patroni,
    lbKind: spec.loadBalancer.kind,
    lbHosts: isHosts ? t.lbAddresses : ['localhost'],
    firstLbHost: t.lbHosts[0]?.address ?? 'localhost',
    lbDefault: isHosts ? 'each lb host' : 'localhost',
    httpPort: spec.loadBalancer.httpPort,
    lbHealthPath: LB_HEALTH_PATH,
    healthPath: spec.app.healthPath,
    appPort: spec.app.port,
    apps: t.apps.map((a) => ({ ...a, pair: `${a.name}=${a.address}` })),
    appService: t.appService,
    replicas: spec.app.replicas,
    dbPort: spec.database.port,
    dbEndpoints: t.dbEndpoints.map((e) => `${e.host}:${e.port}`),
    dbService: t.dbService,
    dbPrimaryService: t.db[0]!.name,
    dbMembers: dbMembers(t),
    firstDb: t.db[0]!.address,
    standbys: Math.max(0, t.db.length - 1),
    detect: LB_DETECT_SECONDS + 1,
    restarter: isHosts ? 'systemd (Restart=always)' : spec.platform === 'swarm' ? 'Swarm' : 'this script (docker compose start)',
    failoverWait: (plan.recovery.patroni?.failoverSeconds ?? 15) + 15,
    expect: patroni
      ? `Patroni promotes a replica within ~${plan.recovery.patroni?.failoverSeconds ?? 15} s and the endpoint follows it; writes resume; the old leader rejoins as a replica when started again.`
      : spec.database.ha === 'streaming'
        ? 'writes fail until a person promotes the standby (RUNBOOK.md step 4); this script restarts the primary instead and checks everything recovers.'
        : 'the app reports the database as down (degraded: its health path fails), the load balancer itself stays up; nothing is lost; it recovers when the database is started again.',
    baseUrl: `http://${lbHost}:${spec.loadBalancer.httpPort}`,
  };
}

/**
 * chaos/host-fault.sh (hosts): every host of the inventory with what a freeze stops there: the
 * model's units that run processes (not timers, not the firewall's one-shot load, not the kernel's
 * NFS server, which no signal stops) and the containers a unit runs with `docker run --name UNIT`
 * (paused instead: the unit's own process is only the docker client).
 */
function hostFaultModel(spec: Spec, m: ReturnType<typeof model>) {
  const dep = deploymentOf(spec);
  const faultHosts = dep.hosts
    .filter((h) => !h.external)
    .map((h) => {
      const running = h.services.filter((s) => s.unit && !/\.timer$/.test(s.unit) && s.kind !== 'firewall' && s.unit !== 'nfs-server');
      const containers = running.filter((s) => s.kind === 'app' || (s.packages ?? []).includes('docker.io')).map((s) => s.unit!);
      const units = running.map((s) => s.unit!).filter((u) => !containers.includes(u));
      return { name: h.name, address: h.address, units, containers, runs: h.services.map((s) => s.name).join(', ') || 'nothing of this bundle' };
    });
  const byName = (names: string[]) => names.filter((n) => faultHosts.some((h) => h.name === n));
  const dbHostNames = byName(dep.members.db);
  const lbHostNames = byName(dep.members.lb);
  return {
    faultHosts,
    floating: dep.floating[0]?.address ?? '',
    dbHostNames,
    lbHostNames,
    firstDbHost: dbHostNames[0] ?? '',
    firstLbHostName: lbHostNames[0] ?? '',
    clientWait: m.failoverWait,
    failoverSeconds: m.failoverWait - 15,
  };
}

function renderScripts(spec: Spec, ctx: RenderContext, b: BundleBuilder, m: ReturnType<typeof model>): void {
  b.add('smoke.sh', renderTemplate(smokeSrc, m), shell);
  const prelude = renderTemplate(libSrc, m).trimEnd();
  const withLib = { ...m, prelude };
  b.add('chaos/kill-app.sh', renderTemplate(killSrc, withLib), shell);
  b.add('chaos/partition-app.sh', renderTemplate(partitionSrc, withLib), shell);
  b.add('chaos/stop-db-leader.sh', renderTemplate(stopDbSrc, withLib), shell);
  b.add('chaos/fill-disk.sh', renderTemplate(fillSrc, withLib), shell);
  if (spec.platform === 'hosts') b.add('chaos/host-fault.sh', renderTemplate(hostFaultSrc, { ...withLib, ...hostFaultModel(spec, m) }), shell);
  b.add('loadtest/k6.js', renderTemplate(k6Src, m), { checks: [{ tool: 'k6' }] });
  b.add('loadtest/ab.sh', renderTemplate(abSrc, m), shell);
}

const code = (lines: string[]) => ['```bash', ...lines, '```'];

/** The compose runbook commands (single database: the backup service of docker-compose.backup.yml). */
function composeCommands(spec: Spec, t: Topology) {
  const db1 = t.db[1];
  // single database: its backup override (replicated databases: commands() gives their own lines)
  const o = backupOverride(spec);
  const restoreSvc = o ? `docker compose -f docker-compose.yml -f ${o.file}` : '';
  return {
    status: ['docker compose ps', 'docker compose logs --since 15m --tail 200'],
    app: [...t.apps.map((a) => `docker compose ps ${a.name}`), 'docker compose logs --since 15m app1'],
    db: ['docker compose exec -T db pg_isready -U postgres', 'docker compose logs --since 15m db'],
    infra: ['df -h /var/lib/docker', 'docker system df', 'uptime'],
    promote: spec.database.ha === 'none' ? [] : [`docker compose exec -T ${db1?.name ?? 'db'} psql -U postgres -c 'SELECT pg_promote()'`],
    scaleApp: ['docker compose up -d   # recreates missing or stopped instances'],
    lbSwitch: [`docker compose restart ${spec.loadBalancer.kind}`],
    restore: !o ? [] : [
      `${restoreSvc} run --rm --no-deps ${o.service} backup.sh   # an extra base backup first, if the database still runs`,
      `${restoreSvc} stop db`,
      `${restoreSvc} run --rm --no-deps -v restore-target:/restore ${o.service} restore-pitr.sh 'YYYY-MM-DD HH:MM:SS+00' /restore/data`,
      '# check the copy, then make it the data volume (docker volume; see backup/restore-pitr.sh output) and start db',
    ],
    backupInfo: !o ? [] : [`${restoreSvc} run --rm --no-deps ${o.service} pgbackrest --stanza=${stanzaOf(spec)} info`],
    logs: ['docker compose logs -f --since 5m'],
  };
}

/** Commands for each runbook step, in this platform's words. */
function commands(spec: Spec, t: Topology) {
  const p = spec.platform;
  const replicated = spec.database.ha !== 'none';
  if (p === 'compose' && replicated) {
    // Every member has a backup service (docker-compose.yml); only the current primary's acts.
    const svcs = dbMemberNames(spec).map(backupServiceName);
    const any = `$(for s in ${svcs.join(' ')}; do docker compose exec -T "$s" psql -XAtc 'SELECT NOT pg_is_in_recovery()' | grep -q t && echo "$s" && break; done)`;
    return {
      ...composeCommands(spec, t),
      restore: [
        `primary_backup=${any}   # the backup service beside the current primary`,
        'docker compose exec -T "$primary_backup" backup.sh full   # an extra base backup first, if the database still runs',
        `docker compose exec -T "$primary_backup" restore-pitr.sh 'YYYY-MM-DD HH:MM:SS+00' /var/lib/postgresql/restore   # in that container, not in a volume; it prints how to start the copy`,
        `# check the copy, then stop the cluster and make the copy the primary's data (${spec.database.ha === 'patroni' ? 'Patroni: remove the cluster from etcd with patronictl remove, then start one member on the copy' : 'then re-clone the standbys'})`,
      ],
      backupInfo: [`docker compose exec -T ${svcs[0]} pgbackrest --stanza=${stanzaOf(spec)} info`],
    };
  }
  if (p === 'compose') return composeCommands(spec, t);
  if (p === 'swarm' && replicated) {
    const svc = (m: string) => `${spec.name}_${backupServiceName(m)}`;
    const members = dbMemberNames(spec);
    const on = `docker exec $(docker ps -q -f label=com.docker.swarm.service.name=${svc(members[0]!)})`;
    return {
      ...swarmCommands(spec, t),
      restore: [
        `# on the node of the current primary's member, in its backup service (${members.map(svc).join(', ')}); ${members[0]} shown`,
        `${on} backup.sh full   # an extra base backup first, if the database still runs`,
        `${on} restore-pitr.sh 'YYYY-MM-DD HH:MM:SS+00' /var/lib/postgresql/restore   # in that container, not in a volume; it prints how to start the copy`,
        `# check the copy, then stop the cluster and make the copy the primary's data (${spec.database.ha === 'patroni' ? 'Patroni: patronictl remove, then start one member on the copy' : 'then re-clone the standbys'})`,
      ],
      backupInfo: [`${on} pgbackrest --stanza=${stanzaOf(spec)} info   # on ${members[0]}'s node`],
    };
  }
  if (p === 'swarm') return swarmCommands(spec, t);
  return hostsCommands(spec, t);
}

/** The swarm runbook commands (single database: the backup service of stack.backup.yml). */
function swarmCommands(spec: Spec, t: Topology) {
  const db1 = t.db[1];
  return {
    status: [`docker stack services ${spec.name}`, `docker stack ps ${spec.name} --no-trunc --filter desired-state=running`],
    app: [`docker service ps ${t.appService}`, `docker service logs --since 15m ${t.appService}`],
    db: [`docker service ps ${t.dbService}`, `docker service logs --since 15m ${t.dbService}`],
    infra: ['docker node ls', 'df -h /var/lib/docker   # on each node'],
    promote: spec.database.ha === 'none' ? [] : [`docker exec $(docker ps -q -f label=com.docker.swarm.service.name=${db1?.name ?? t.dbService}) psql -U postgres -c 'SELECT pg_promote()'   # on the standby's node`],
    scaleApp: [`docker service scale ${t.appService}=${spec.app.replicas}`, `docker service update --force ${t.appService}   # reschedules tasks off a lost node`],
    lbSwitch: [`docker service update --force ${t.lbService}`],
    restore: [
      `docker service scale ${spec.name}_backup=0 ${t.dbService}=0`,
      `docker run --rm -v ${spec.name}_pgbackrest-repo:/var/lib/pgbackrest -v ${spec.name}_restore:/restore ${backupImage(spec)} restore-pitr.sh 'YYYY-MM-DD HH:MM:SS+00' /restore/data   # on the database node`,
      '# check the copy, then swap it into the pgdata volume and scale db (and backup) back to 1',
    ],
    backupInfo: [`docker exec $(docker ps -q -f label=com.docker.swarm.service.name=${spec.name}_backup) pgbackrest --stanza=${stanzaOf(spec)} info`],
    logs: [`docker service logs -f --since 5m ${t.appService}`],
  };
}

/** The hosts runbook commands (ssh to each host). */
function hostsCommands(spec: Spec, t: Topology) {
  const ssh = (addr: string, cmd: string) => `ssh root@${addr} ${cmd}`;
  const db0 = t.db[0]!;
  const db1 = t.db[1];
  const patroni = spec.database.ha === 'patroni';
  const hs = hostScripts(spec);
  const unit = t.dbService;
  const dbRef = t.db.length > 1 ? '$db' : db0.address;
  const restoreDir = `/var/lib/postgresql/${spec.database.version}/restore`;
  // A spare port for the restored copy: not the server's own.
  const RESTORE_PORT = spec.database.port === 5499 ? 5498 : 5499;
  // patronictl needs the REST API credentials, which live only in the Patroni unit's EnvironmentFile:
  // systemd-run reads that file exactly as the unit does (no shell parsing of the passwords).
  const patronictl = `systemd-run --quiet --pipe --wait --collect -p EnvironmentFile=${envFilePath(spec.name, 'patroni')} patronictl -c /etc/patroni/patroni.yml`;
  // The checked copy replaces the database: restore-pitr --adopt (its recovery settings out, the old
  // data directory kept beside it), then the service; the other members clone themselves from it.
  const data = backupPaths(spec).data;
  const adopt = `"runuser -u postgres -- ${hs.restore} --adopt ${restoreDir} ${data} && systemctl start ${unit}"`;
  const all = t.db.map((d) => d.address).join(' ');
  const aside = `${data}.before-restore-$(date -u +%Y%m%dT%H%M%SZ)`;
  const dbFiles = dbHostFiles(spec);
  const putIntoService: string[] = patroni
    ? [
        `for h in ${all}; do ssh root@$h systemctl stop ${unit}; done   # every member: the copy replaces the whole cluster (the app gets no database until the new leader runs)`,
        ssh(dbRef, `"printf '%s\\nYes I am aware\\n' ${spec.name} | ${patronictl} remove ${spec.name}"`) + "   # the old cluster's record in etcd (patronictl asks for its name and a confirmation)",
        ssh(dbRef, adopt) + '   # Patroni finds no cluster in etcd and a data directory: it starts this one as the leader',
        `for h in ${all}; do [ "$h" = "$db" ] || ssh root@$h "runuser -u postgres -- mv ${data} ${aside} && systemctl start ${unit}"; done   # each replica, its data kept aside, clones itself from the new leader`,
      ]
    : t.db.length > 1
      ? [
        ssh(dbRef, adopt) + '   # the copy becomes the primary (the old data directory is kept beside it)',
        `for h in ${all}; do [ "$h" = "$db" ] || ssh root@$h "systemctl stop ${unit} && systemd-run --quiet --pipe --wait --collect -p EnvironmentFile=${dbFiles.replicaEnv} runuser -u postgres -- env PRIMARY_HOST=$db ${dbFiles.bootstrap} --reclone && systemctl start ${unit}"; done   # each standby clones itself again from the restored primary`,
        ]
      : [ssh(dbRef, adopt) + '   # the copy becomes the database (the old data directory is kept beside it)'];
  return {
    status: [...t.lbHosts.map((h) => ssh(h.address, `systemctl status ${spec.loadBalancer.kind}`)), ...t.apps.map((a) => ssh(a.address, `systemctl status ${t.appService}`))],
    app: t.apps.map((a) => ssh(a.address, `journalctl -u ${t.appService} --since -15min`)),
    db: patroni
      ? [
          ssh(db0.address, `"${patronictl} list"`),
          // etcd takes only clients with a certificate of the bundle's CA (pki/): the member's own, on its host
          ...(t.etcd.length ? [ssh(t.etcd[0]!.address, `"ETCDCTL_API=3 etcdctl --endpoints ${t.etcd.map((e) => `https://${e.address}:${ETCD_CLIENT_PORT}`).join(',')} --cacert ${ETCD_TLS.ca} --cert ${ETCD_TLS.cert} --key ${ETCD_TLS.key} endpoint health"`)] : []),
          ...t.db.map((d) => ssh(d.address, `systemctl status ${unit}`)),
        ]
      : t.db.map((d) => ssh(d.address, `systemctl status ${unit}`)),
    infra: [...spec.hosts.map((h) => `ping -c 3 ${h.address}   # ${h.name}`), ssh(db0.address, 'df -h /var/lib/postgresql')],
    promote: patroni
      ? // Patroni 3.0.2's failover refuses --force without --candidate ("Failover could be performed only to
        // a specific candidate"); run it on the member to promote, which is alive, unlike perhaps db0.
        // With synchronous_mode the leader ignores a candidate that is not the Sync Standby (Patroni logs
        // "Failover candidate=... does not match with sync_standbys" and nothing happens).
        [ssh((db1 ?? db0).address, `"${patronictl} failover --candidate ${(db1 ?? db0).name} --force"   # only if Patroni did not fail over by itself; ${spec.database.synchronous ? `name and ssh to the Sync Standby from 'list' if it is not ${(db1 ?? db0).name} (synchronous_mode promotes no other member)` : `if ${(db1 ?? db0).name} is the lost one, name and ssh to a replica from 'list'`}`)]
      : spec.database.ha === 'streaming' && db1
        ? [ssh(db1.address, `"runuser -u postgres -- psql -p ${spec.database.port} -c 'SELECT pg_promote()'"`), `# then point DATABASE_URL at ${db1.address}: change the inventory order (${db1.name} first) and ./deploy.sh each app host`]
        : [],
    scaleApp: t.apps.map((a) => `./deploy.sh ${a.host}`),
    lbSwitch: t.lbHosts.map((h) => ssh(h.address, `systemctl reload ${spec.loadBalancer.kind}`)),
    // With more than one database host the restore runs where the backups are: the primary takes
    // them (the script is a no-op on a standby), and with a local repository each host archives into
    // its own /var/lib/pgbackrest, so a fixed host is wrong after any failover.
    restore: [
      ...(t.db.length > 1 ? [`db=${db0.address}   # the database host to restore on: the primary now (${patroni ? 'patronictl list' : 'smoke.sh names it'})${spec.backup.repository === 'local' ? ', or the one whose pgbackrest info above shows a backup before the target time: each host archives into its own /var/lib/pgbackrest' : ''}`] : []),
      ssh(dbRef, `"runuser -u postgres -- ${hs.backup} full"   # an extra base backup first, if the database still runs`),
      ssh(dbRef, `systemctl stop ${unit}`),
      ssh(dbRef, `"runuser -u postgres -- ${hs.restore} 'YYYY-MM-DD HH:MM:SS+00' ${restoreDir} ${RESTORE_PORT}"`) + `   # restores into a new folder, starts that copy on port ${RESTORE_PORT} (local socket only) and waits until it is promoted`,
      ssh(dbRef, `"runuser -u postgres -- psql -p ${RESTORE_PORT} -d ${spec.database.name} -c 'YOUR QUERY'"`) + '   # check the copy holds what was lost',
      ssh(dbRef, `"runuser -u postgres -- ${backupPaths(spec).bin}/pg_ctl -D ${restoreDir} -m fast stop"`) + '   # stop the copy',
      ...putIntoService,
    ],
    backupInfo:
      t.db.length > 1
        ? [`for h in ${t.db.map((d) => d.address).join(' ')}; do echo "== $h"; ssh root@$h "runuser -u postgres -- pgbackrest --stanza=${stanzaOf(spec)} info"; done`]
        : [ssh(db0.address, `"runuser -u postgres -- pgbackrest --stanza=${stanzaOf(spec)} info"`)],
    logs: [...t.apps.map((a) => ssh(a.address, `journalctl -fu ${t.appService}`)).slice(0, 1), ssh(db0.address, `journalctl -fu ${unit}`)],
  };
}

/** Where alerts go, for a sentence: the receivers of monitoring. */
function receiversText(spec: Spec): string {
  const m = spec.monitoring;
  const r = [...(m.webhookUrl ? [`the webhook ${m.webhookUrl}`] : []), ...(m.email ? [`e-mail to ${m.email.to.join(', ')} through ${m.email.smarthost}:${m.email.port}`] : [])];
  return r.length ? `They go to ${r.join(' and ')}, and again when resolved.` : 'They go nowhere yet: set monitoring.webhookUrl and/or monitoring.email (until then only Alertmanager\'s web page shows them).';
}

/** Step 1's alerts: which ones, who evaluates them, where they go; each links its section below. */
function alertsInStep1(spec: Spec): string[] {
  const dep = deploymentOf(spec);
  const mon = dep.monitoring;
  if (!mon) return spec.platform === 'hosts' ? ['', 'No monitoring in this bundle (monitoring.enabled is off): nobody is told of a failure; turn it on.'] : [];
  const addr = (n: string) => dep.hosts.find((h) => h.name === n)!.address;
  const alerts = alertDefs(spec, dep);
  // compose publishes the web UIs on the Docker host's 127.0.0.1; swarm reaches them inside the stack only.
  const amUrls = spec.platform === 'hosts' ? mon.alertmanager.map((n) => `http://${addr(n)}:${ALERTMANAGER_PORT}`) : spec.platform === 'compose' ? [`http://127.0.0.1:${ALERTMANAGER_PORT}`] : [`http://tasks.alertmanager:${ALERTMANAGER_PORT}, inside the stack`];
  const where = spec.platform === 'hosts' ? `${mon.prometheus.join(', ')} (port ${PROMETHEUS_PORT})` : spec.platform === 'compose' ? `the Docker host (service prometheus, port ${PROMETHEUS_PORT} published on 127.0.0.1 only)` : `${mon.prometheus.length} nodes labelled monitoring=true (service ${spec.name}_prometheus, port ${PROMETHEUS_PORT}, not published)`;
  return [
    '',
    `**Alerts.** Prometheus on ${where} evaluates ${alerts.length} alert rules every ${spec.monitoring.evaluationInterval} s and sends to ${dep.regions ? 'its region\'s' : 'every'} Alertmanager (${amUrls.join(', ')})${mon.alertmanager.length > 1 ? ', which deduplicate, so each alert arrives once' : ''}. ${receiversText(spec)} Each alert links its section under [Alerts](#alerts) below:`,
    '',
    '| alert | severity | what it means |',
    '|---|---|---|',
    ...alerts.map((a) => `| [${a.alert}](#${runbookAnchor(a.alert)}) | ${a.severity} | ${a.description.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, '<$1>').replaceAll('|', '\\|')} |`),
  ];
}

/** One section per alert, the target of its runbook_url. */
function alertSections(spec: Spec): string[] {
  const dep = deploymentOf(spec);
  if (!dep.monitoring) return [];
  const rules = spec.platform === 'hosts' ? 'hosts/<host>/etc/prometheus/ha-gen.rules.yml' : 'monitoring/ha-gen.rules.yml';
  const o = ['', '## Alerts', '', `Every alert of the bundle's Prometheus (\`${rules}\`), with what to do first. Silence one during planned work with \`amtool silence add alertname=<name> --alertmanager.url=http://<alertmanager>:9093\`.`];
  for (const a of alertDefs(spec, dep)) {
    o.push('', `### ${a.alert}`, '', `${a.description.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, '<$1>')} (severity ${a.severity}${a.for === '0s' ? '' : `, after ${a.for}`})`, '', ALERT_ACTIONS[a.alert] ?? '');
  }
  return o;
}

export function renderRunbook(spec: Spec, ctx: RenderContext, plan: Plan, t: Topology): string {
  const c = commands(spec, t);
  const o: string[] = [header(ctx, 'md').trimEnd(), `# ${spec.name}: disaster recovery runbook`, ''];
  o.push(`Tier **${spec.tier}**, platform **${spec.platform}**, load balancer **${spec.loadBalancer.kind}**, database **${spec.database.ha}**. The guide's seven steps with this bundle's commands. Run commands from the bundle folder${spec.platform === 'hosts' ? ' on a machine with SSH access to the hosts' : spec.platform === 'swarm' ? ' on a swarm manager' : ' on the Docker host'}.`, '');
  o.push('## Recovery objectives (from the generated settings)', '', '| failure | RTO | RPO |', '|---|---|---|');
  for (const f of plan.failures) o.push(`| ${f.failure} | ${f.rto} | ${f.rpo} |`);
  o.push('', `Backups: ${plan.recovery.backupSchedule}; ${plan.recovery.dumpSchedule}. WAL is archived at least every ${plan.recovery.archiveTimeout} s (archive_timeout).`);
  if (plan.recovery.patroni) o.push(`Patroni: ttl ${plan.recovery.patroni.ttl} s, loop_wait ${plan.recovery.patroni.loopWait} s, retry_timeout ${plan.recovery.patroni.retryTimeout} s.`);
  o.push('', '## 1. Detect the outage', '', 'What each failure looks like from the outside:', '', '| failure | symptom |', '|---|---|');
  for (const f of plan.failures) o.push(`| ${f.failure} | ${f.symptom} |`);
  o.push('', 'Confirm with the smoke test (one line per check, exit 1 on any failure):', '', ...code(['./smoke.sh', './smoke.sh --lb-only   # only what clients see']));
  o.push(...alertsInStep1(spec));
  o.push('', '## 2. Assess the scope', '', 'Application:', '', ...code([...c.status, ...c.app]), '', 'Database:', '', ...code(c.db), '', 'Infrastructure:', '', ...code(c.infra));
  o.push('', '## 3. Notify the team', '', '- Open an incident: who leads, who communicates, who types commands.', '- Post the smoke.sh output and the start time; update the status page.', '- Note every command run, with the time, for step 7.');
  o.push('', '## 4. Fail over', '');
  o.push('**Promote a replica (database primary lost):**', '');
  if (c.promote.length) o.push(...code(c.promote));
  else o.push('There is no replica (database.ha none): restore from the backup below onto a new server.');
  o.push('', '**Bring app instances back:**', '', ...code(c.scaleApp), '', '**Load balancer / DNS:**', '', ...code(c.lbSwitch));
  if (spec.tier === 'multi-region') o.push('', 'Region lost: the health-checked DNS records move users to the surviving region; make its database writable before sending writes there.');
  o.push('', '**Restore from backup (data lost or corrupted: point-in-time recovery):**', '', ...code([...c.backupInfo, ...c.restore]));
  o.push('', 'Pick the time just before the mistake (from the app logs or `pg_waldump`); the restore replays WAL up to it and promotes the copy.');
  o.push('', '## 5. Verify', '', ...code(['./smoke.sh', './loadtest/ab.sh          # the guide\'s ab one-liner', 'k6 run loadtest/k6.js     # ramping load, fails on >1% errors or p95 > 500 ms']));
  o.push('', '## 6. Monitor closely', '', ...code([...c.logs, 'watch -n 10 ./smoke.sh', ...c.backupInfo]), '', '- Replication lag and standby count are in smoke.sh; a failed-over cluster needs its old primary rejoined (Patroni does it; streaming: re-clone it as a standby).', `- Take a fresh full backup after a failover or restore (${spec.platform === 'hosts' ? hostScripts(spec).backup + ' full' : 'backup.sh full in the backup service'}).`);
  o.push('', '## 7. Post-mortem', '', '- Timeline from detection to recovery; measured RTO and RPO against the table above.', '- Root cause, and what would have caught it earlier (alerts, smoke.sh in monitoring).', '- Rehearse: the chaos scripts in `chaos/` break one thing each and check the recovery with smoke.sh; a restore drill proves the backups:');
  o.push('', ...code(['chaos/kill-app.sh', 'chaos/partition-app.sh', 'chaos/stop-db-leader.sh', 'chaos/fill-disk.sh   # FILL_MB=1024 by default, never below 10% free']));
  if (spec.platform === 'hosts') {
    const dep = deploymentOf(spec);
    const lbTarget = dep.floating.length ? 'lb-active' : (dep.members.lb[0] ?? spec.hosts[0]!.name);
    const dbTarget = spec.database.ha === 'patroni' ? 'db-leader' : (dep.members.db[0] ?? spec.hosts[0]!.name);
    const appTarget = dep.members.app[0] ?? spec.hosts[0]!.name;
    o.push('', 'Whole hosts, the way servers fail (each with `--dry-run` first: it prints the host\'s address and every command, and connects to nothing):', '');
    o.push(
      ...code([
        `chaos/host-fault.sh poweroff ${lbTarget} --dry-run`,
        `chaos/host-fault.sh poweroff ${lbTarget}        # POWEROFF_CMD/POWERON_CMD: your hypervisor instead of systemctl poweroff`,
        `chaos/host-fault.sh poweroff ${appTarget}`,
        `chaos/host-fault.sh poweroff ${dbTarget}`,
        `chaos/host-fault.sh partition ${dbTarget} --seconds 30   # nftables drops all but your SSH; heals by itself`,
        `chaos/host-fault.sh freeze ${dbTarget} --seconds 30      # SIGSTOP / docker pause; resumes by itself`,
      ]),
    );
  }
  const where = spec.platform === 'hosts' ? ' on each database host' : spec.database.ha === 'patroni' ? ' (backup/pgbackrest.conf, mounted into every Patroni member and its backup service)' : ' (backup/pgbackrest.conf, baked into the image by backup/Dockerfile)';
  o.push('', `pgBackRest configuration: \`${PGBACKREST_CONFIG}\`${where}.`);
  if (spec.platform !== 'hosts' && spec.database.ha !== 'none') {
    // Swarm's named volumes are per node: with a local repository each node holds its own (the plan warns).
    const repo = spec.platform === 'swarm' && spec.backup.repository !== 's3'
      ? 'into the repository volume on its own node (a Swarm volume is per node: after a failover to another node the backups and WAL start a new chain there; backup.repository s3 keeps one repository)'
      : 'into the one repository';
    o.push('', `Every database member archives WAL (only the primary does at a time) ${repo}, and has a backup service beside it (backup-<member>) that runs the schedule; only the one beside the current primary takes backups, so they follow a failover.`);
  }
  o.push(...alertSections(spec));
  return `${o.join('\n')}\n`;
}

export function renderOps(spec: Spec, ctx: RenderContext, b: BundleBuilder, opts: PlanOptions = {}): void {
  // multi-region: each region renders its own backups (targets/regions), inside the tree its deploy copies
  if (spec.tier !== 'multi-region') renderBackup(spec, ctx, b);
  const plan = buildPlan(spec, opts);
  const t = scriptView(spec);
  renderScripts(spec, ctx, b, model(spec, ctx, t, plan));
  b.add('RUNBOOK.md', renderRunbook(spec, ctx, plan, t));
}

/** The README's plan section (summary + Mermaid diagram), for the readme target. */
export function planReadmeSection(spec: Spec, opts: PlanOptions = {}): string {
  return planMarkdown(buildPlan(spec, opts));
}
