import type { Host, Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import deploySource from '../../../templates/hosts/deploy.sh.hbs?raw';
import { envLoaderShell } from '../env/loader.js';
import { PGDG_KEY, PGDG_KEY_FINGERPRINT } from './pgdg-key.js';
import { renderUnit, envFilePath } from '../systemd/index.js';
import { renderLbHost } from '../lb-units.js';
import { renderKeepalivedHosts } from '../keepalived/index.js';
import { firewallTable, renderFirewallHosts, ROLLBACK_SECONDS } from '../firewall/index.js';
import { SECRETS } from '../secrets.js';
import { PKI_DIR } from '../pki.js';
import { fileOwnership, dirOwnership } from './ownership.js';
import { addSteps, hostFile, newHostsPlan, topology, type HostsPlan } from './plan.js';
import { renderDatabaseHosts, appDatabaseUrl } from '../postgres/hosts.js';
import { renderHostsStorage, uploadsDir } from '../storage/index.js';
import { renderHostsDeploy } from '../deploy/index.js';
import { backupHostEnv } from '../backup/index.js';
import { renderMonitoringHosts } from '../monitoring/index.js';

export { appUnit, appUnitName, greenUnitName, greenPort, type AppUnitOptions } from '../app/index.js';
import { appUnit, appUnitName } from '../app/index.js';

/** Platform hosts: every host's folder mirrors its /, one systemd unit per service, one deploy.sh. */
export function renderHosts(spec: Spec, ctx: RenderContext, b: BundleBuilder, o: { envRel?: string; pkiRel?: string; certPrefix?: string } = {}): void {
  const t = topology(spec);
  const plan = newHostsPlan(spec, o.certPrefix ?? '');
  const h = header(ctx);
  b.resolveNames(...spec.hosts.map((x) => x.address).filter((a) => !/^[0-9.]+$/.test(a)));

  // 1. load balancers
  const upstreams = { kind: 'static' as const, servers: t.app.map((a) => ({ name: a.name, host: a.address, port: spec.app.port })) };
  // LB config, unit, TLS helper and certbot units per lb host: see lb-units.ts.
  for (const lb of t.lb) renderLbHost(spec, ctx, b, plan, lb, upstreams);
  renderKeepalivedHosts(spec, ctx, b, plan, t.lb);

  // 2. database (and its endpoint for the app)
  renderDatabaseHosts(spec, ctx, b, plan);
  // scheduled backups (files rendered by the backup target) are enabled by deploy.sh on every db host
  const backupEnv = backupHostEnv(spec);
  if (backupEnv) for (const db of t.db) addSteps(plan, db, 'backup', { envFile: backupEnv });

  // 3. shared storage: server side on storage hosts, mounts on app hosts
  const storage = renderHostsStorage(spec, ctx, b, plan);

  // 4. app instances: the app ships as a container image, so its unit runs it with Docker
  b.secret(SECRETS.jwt).secret(SECRETS.appDb);
  const unitName = appUnitName(spec);
  const envPath = envFilePath(spec.name, 'app');
  for (const app of t.app) {
    b.add(hostFile(app, `/etc/systemd/system/${unitName}.service`), renderUnit(appUnit(spec, app, { unit: unitName, hostPort: spec.app.port, mounted: storage.mounted }), ctx), { checks: [{ tool: 'systemd' }] });
    addSteps(plan, app, 'app', {
      // A rolling update's image pin ends with the next full deploy: the spec's image is the truth again.
      // The image is pulled here, at deploy time, not at every start: a registry outage must not stop a
      // restart, and a crash restart must not upgrade the app behind the operator's back.
      before: [`rm -f /etc/systemd/system/${unitName}.service.d/50-image.conf`, `docker pull ${spec.app.image}`],
      envFile: {
        path: envPath,
        entries: [
          { name: 'DATABASE_URL', value: appDatabaseUrl(spec, app) },
          { name: SECRETS.jwt.name, value: `$${SECRETS.jwt.name}` },
          { name: 'PORT', value: String(spec.app.port) },
          ...Object.entries({ ...spec.app.env, ...storage.appEnv }).map(([name, value]) => ({ name, value })),
        ],
      },
    });
  }

  // 5. rolling update and blue-green scripts
  renderHostsDeploy(spec, ctx, b, storage.mounted);

  // 6. monitoring (monitoring.enabled): Prometheus, Alertmanager, exporters, rules and their tests
  renderMonitoringHosts(spec, ctx, b, plan);

  // 7. the firewall from the flows, last on every host
  renderFirewallHosts(spec, ctx, b, spec.hosts);

  // 8. deploy.sh from the plan, once every target (backups too) has added its host files
  b.defer(() => renderDeployScript(spec, ctx, b, plan, o.envRel ?? '.env', o.pkiRel ?? PKI_DIR));
}

/** deploy.sh: per host, the model's units, packages and start order, with the steps targets added. */
function renderDeployScript(spec: Spec, ctx: RenderContext, b: BundleBuilder, plan: HostsPlan, envRel: string, pkiRel: string): void {
  const hosts = plan.dep.hosts.filter((h) => !h.external).map((host) => {
    const services = host.services; // sorted by start order in the model
    const steps = services.flatMap((s) => plan.steps.get(host.name)?.get(s.id) ?? []);
    const pki = [...new Map(steps.flatMap((s) => s.pki ?? []).map((f) => [f.path, f])).values()];
    return {
      name: host.name,
      address: host.address,
      // The firewall (order 5, first on every host) does not rank hosts: without this, every host
      // ranked 5 and the order fell back to names (app hosts before the storage their mount needs).
      order: Math.min(...services.filter((s) => s.kind !== 'firewall').map((s) => s.order), 99),
      units: services.flatMap((s) => (s.unit ? [s.unit] : [])).join(' '),
      before: steps.flatMap((s) => s.before ?? []),
      packages: [...new Set(services.flatMap((s) => s.packages))].sort().join(' '),
      envFiles: steps.filter((s) => s.envFile).map((s) => ({ path: s.envFile!.path, entries: s.envFile!.entries, raw: !!s.envFile!.raw })),
      after: steps.flatMap((s) => s.after ?? []),
      pki,
      pkiLines: pki.map((f) => `${f.src} ${f.path} ${f.owner} ${f.mode}`),
      firewallUnit: services.find((s) => s.kind === 'firewall')?.unit ?? '',
      // deploy.sh checks on the host whether its OS ships this major (else: apt.postgresql.org)
      pgMajor: services.some((s) => s.packages.includes(`postgresql-${spec.database.version}`)) ? String(spec.database.version) : '',
      // apt.postgresql.org carries the newest Patroni: deploy.sh pins the one the settings are for
      patroniVersion: services.some((s) => s.packages.includes('patroni')) ? spec.database.patroniVersion : '',
      ...installList(spec, b, host.name),
      unitFiles: unitFileMap(b, host.name, services, (id) => plan.steps.get(host.name)?.get(id) ?? []),
    };
  });
  const ordered = [...hosts].sort((a, b) => a.order - b.order || (a.name < b.name ? -1 : 1));
  b.add('deploy.sh', renderTemplate(deploySource, { header: header(ctx).trimEnd(), name: spec.name, hosts, orderedNames: ordered.map((x) => x.name).join(' '), envRel, envLoader: envLoaderShell('deploy.sh', b.secretNames()), pkiRel, anyPki: hosts.some((x) => x.pki.length), firewallTable: firewallTable(spec), rollback: ROLLBACK_SECONDS, pgdgKey: PGDG_KEY, pgdgFpr: PGDG_KEY_FINGERPRINT, patroniEnv: envFilePath(spec.name, 'patroni') }), { mode: 0o755, checks: [{ tool: 'shell' }] });
}

/**
 * deploy.sh's "UNIT PATH..." lines: the files on the host each unit reads, so that a re-run restarts
 * (Patroni: reloads) only the units whose files changed. A unit reads its unit file (and the
 * service its timer starts), every file of the host whose path that file names, and so on (a
 * config naming its includes, certificates, scripts), and the secret and pki files of its steps.
 */
function unitFileMap(b: BundleBuilder, hostName: string, services: Array<{ id: string; unit?: string }>, stepsOf: (id: string) => Array<{ envFile?: { path: string }; pki?: Array<{ path: string }> }>): string[] {
  const prefix = `hosts/${hostName}`;
  const bundled = b.filesUnder(`${prefix}/`).map((f) => f.path.slice(prefix.length));
  const secretsOf = (id: string) => stepsOf(id).flatMap((st) => [...(st.envFile ? [st.envFile.path] : []), ...(st.pki ?? []).map((f) => f.path)]);
  const known = [...new Set([...bundled, ...services.flatMap((s) => secretsOf(s.id))])];
  // A file names a path when the path is in it not followed by more path characters. The plain
  // substring test first: a RegExp per known path and file was most of deploy.sh's render time.
  const patterns = new Map<string, RegExp>();
  const pattern = (p: string) => patterns.get(p) ?? patterns.set(p, new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w./-])`)).get(p)!;
  const namedIn = new Map<string, string[]>();
  const named = (file: string) => {
    let found = namedIn.get(file);
    if (!found) {
      const text = b.contents(`${prefix}${file}`);
      namedIn.set(file, (found = known.filter((p) => text.includes(p) && pattern(p).test(text))));
    }
    return found;
  };
  return services.flatMap((svc) => {
    if (!svc.unit) return [];
    const unitName = /\.(service|timer|mount|socket|path)$/.test(svc.unit) ? svc.unit : `${svc.unit}.service`;
    const start = [`/etc/systemd/system/${unitName}`, ...(unitName.endsWith('.timer') ? [`/etc/systemd/system/${unitName.replace(/\.timer$/, '.service')}`] : [])];
    const seen = new Set<string>([...start.filter((p) => known.includes(p)), ...bundled.filter((p) => p.startsWith(`/etc/systemd/system/${unitName}.d/`)), ...secretsOf(svc.id)]);
    const queue = [...seen];
    while (queue.length) {
      const p = queue.shift()!;
      if (!bundled.includes(p)) continue; // a secret or pki file: names nothing deploy.sh installs
      for (const q of named(p)) if (!seen.has(q)) (seen.add(q), queue.push(q));
    }
    return [`${svc.unit} ${[...seen].sort().join(' ')}`];
  });
}

/** deploy.sh's install lines for one host ("MODE OWNER GROUP /path"): folders first, then files. */
function installList(spec: Spec, b: BundleBuilder, hostName: string): { dirs: string[]; files: string[] } {
  const prefix = `hosts/${hostName}`;
  const files = b.filesUnder(`${prefix}/`).map((f) => ({ path: f.path.slice(prefix.length), mode: f.mode }));
  const line = (o: { mode: string; owner: string; group: string }, p: string) => `${o.mode} ${o.owner} ${o.group} ${p}`;
  return {
    dirs: dirOwnership(spec.name, files.map((f) => f.path)).map((d) => line(d, d.path)),
    files: files.map((f) => line(fileOwnership(spec.name, f.path, f.mode), f.path)),
  };
}
