/**
 * Tier multi-region (the guide's "Multi-Region Deployment"): one sub-bundle per region under
 * regions/<name>/ (a complete multi-server deployment), logical replication from the primary region
 * to the others, and the global layer (health-checked DNS failover as data, CDN notes).
 */
import type { Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import { BundleBuilder, type SecretDef } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { LB_HEALTH_PATH } from '../lb-model.js';
import { PLATFORM_TARGETS } from '../platforms.js';
import { renderBackup } from '../backup/index.js';
import { deploymentOf, regionDbAddress, regionSpec } from '../../model/index.js';

export { regionDbAddress, regionSpec };
import publicationSrc from '../../../templates/regions/publication.psql.hbs?raw';
import subscriptionSrc from '../../../templates/regions/subscription.psql.hbs?raw';
import lagSubSrc from '../../../templates/regions/lag-subscriber.sql.hbs?raw';
import lagPubSrc from '../../../templates/regions/lag-publisher.sql.hbs?raw';
import primaryConfSrc from '../../../templates/regions/primary.conf.hbs?raw';
import readmeSrc from '../../../templates/regions/README.md.hbs?raw';

import { LOGICAL_USER } from '../../model/constants.js';
export { LOGICAL_USER };
export const LOGICAL_SECRET: SecretDef = { name: 'LOGICAL_REPLICATION_PASSWORD', help: `Password of the ${LOGICAL_USER} role the other regions subscribe as (read by regions/*/logical/*.psql).` };

type Region = Spec['regions'][number];

const slug = (s: string) => s.replaceAll('-', '_');
export const publicationName = (spec: Spec) => `${slug(spec.name)}_pub`;
export const subscriptionName = (spec: Spec, region: string) => `${slug(spec.name)}_sub_${slug(region)}`;

/** The public address of a region's load balancer, for DNS records. 192.0.2.x is TEST-NET-1 (RFC 5737): a placeholder to replace. */
function regionLbAddress(spec: Spec, r: Region, i: number): { address: string; placeholder: boolean } {
  if (r.address) return { address: r.address, placeholder: false };
  const lb = spec.hosts.find((h) => h.region === r.name && h.roles.includes('lb'));
  if (spec.platform === 'hosts' && lb && /^[0-9.]+$/.test(lb.address)) return { address: lb.address, placeholder: false };
  return { address: `192.0.2.${i + 10}`, placeholder: true };
}

/** Where a region's app instances connect (their DATABASE_URL's host:port), from the region's model: its own database. */
function appEndpoints(spec: Spec, r: Region): string {
  return [...new Set(Object.values(deploymentOf(regionSpec(spec, r)).dbWrite).map((e) => `${e.address}:${e.port}`))].sort().join(', ');
}

const regionDomain = (spec: Spec, r: Region) => r.domain ?? `${r.name}.${spec.domain ?? 'example.com'}`;

function psqlDefaults(vars: Record<string, string | number>): string {
  return Object.entries(vars)
    .map(([k, v]) => `\\if :{?${k}}\n\\else\n\\set ${k} ${v}\n\\endif`)
    .join('\n');
}

export function renderMultiRegion(spec: Spec, ctx: RenderContext, b: BundleBuilder): void {
  const primary = spec.regions.find((r) => r.primary)!;
  const others = spec.regions.filter((r) => !r.primary);
  const d = spec.database;
  const pubHost = regionDbAddress(spec, primary);
  b.secret(LOGICAL_SECRET);

  // 1. one complete deployment per region, under regions/<name>/
  for (const r of spec.regions) {
    const sub = regionSpec(spec, r);
    const sb = new BundleBuilder();
    const platform = PLATFORM_TARGETS[spec.platform];
    if (!platform.multiServer) throw new Error(`internal: platform ${spec.platform} cannot run tier multi-region`);
    platform.render(sub, ctx, sb, { region: r.name, envRel: '../../.env', pkiRel: '../../pki', certPrefix: `${r.name}.` });
    // Backups belong to the region that runs them: its deploy.sh copies only regions/<r>/hosts/<h>
    // (and its stack.yml reads ./backup/), so their files go into the region's own tree, rendered
    // before deploy.sh lists what it installs (renderOps skips them at the top for this tier).
    renderBackup(sub, ctx, sb);
    const built = sb.runDeferred().build();
    for (const [path, f] of built.files) b.add(`regions/${r.name}/${path}`, f.contents, { mode: f.mode, checks: f.checks });
    built.secrets.forEach((s) => b.secret(s));
    built.certs.forEach((c) => b.cert(c));
    b.resolveNames(...built.names);
    built.warnings.forEach((w) => b.warn(`region ${r.name}: ${w}`));
  }

  // 2. logical replication: publication on the primary, one subscription per other region
  const h = (style: '#' | '--') => header(ctx, style).trimEnd();
  const common = { db: d.name, primary: primary.name };
  const pubVars = { repl_user: LOGICAL_USER, app_user: d.user, app_db: d.name, publication: publicationName(spec) };
  const dir = (r: Region) => `regions/${r.name}/logical`;
  b.add(`${dir(primary)}/publication.psql`, renderTemplate(publicationSrc, { ...common, header: h('--'), defaults: psqlDefaults(pubVars) }), { checks: [{ tool: 'sql' }] });
  b.add(`${dir(primary)}/primary.conf`, renderTemplate(primaryConfSrc, { header: h('#'), others: others.map((o) => o.name).join(', '), slots: 10 + 2 * d.replicas + others.length }), { checks: [{ tool: 'pg-conf' }] });
  b.add(`${dir(primary)}/lag.sql`, renderTemplate(lagPubSrc, { ...common, header: h('--') }), { checks: [{ tool: 'sql' }] });
  for (const r of others) {
    const vars = {
      repl_user: LOGICAL_USER,
      app_user: d.user,
      app_db: d.name,
      publication: publicationName(spec),
      subscription: subscriptionName(spec, r.name),
      publisher_host: pubHost,
      publisher_port: d.port,
      // Cross-region traffic leaves the data center: TLS when the primary serves it (database.tls);
      // without it, prefer (no claim of encryption; regions/README.md says the link is clear text).
      sslmode: d.tls ? 'require' : 'prefer',
    };
    // Not checked on a throwaway cluster: CREATE SUBSCRIPTION connects to the publisher. The live
    // test (test/live/region-logical.test.ts) runs this file against two real clusters.
    b.add(`${dir(r)}/subscription.psql`, renderTemplate(subscriptionSrc, { ...common, region: r.name, app_user: d.user, header: h('--'), defaults: psqlDefaults(vars) }));
    b.add(`${dir(r)}/lag.sql`, renderTemplate(lagSubSrc, { ...common, region: r.name, header: h('--') }), { checks: [{ tool: 'sql' }] });
  }

  // 3. the global layer: DNS failover on the LB health endpoint, as data
  const useTls = spec.loadBalancer.tls !== 'none';
  const port = useTls ? spec.loadBalancer.httpsPort : spec.loadBalancer.httpPort;
  const zone = spec.domain ?? `${spec.name}.example.com`;
  const regions = spec.regions.map((r, i) => ({ r, lb: regionLbAddress(spec, r, i), domain: regionDomain(spec, r) }));
  const tfName = (s: string) => slug(s);
  const route53 = {
    '//': `${header(ctx, '#').split('\n')[0]!.replace(/^# /, '')} Route53 failover: ${zone} answers with the primary region while its ${LB_HEALTH_PATH} check passes, else the next.`,
    variable: { route53_zone_id: { type: 'string', description: `Hosted zone of ${zone}` } },
    resource: {
      aws_route53_health_check: Object.fromEntries(
        regions.map(({ r, domain }) => [
          tfName(r.name),
          { fqdn: domain, port, type: useTls ? 'HTTPS' : 'HTTP', resource_path: LB_HEALTH_PATH, failure_threshold: 3, request_interval: 10, tags: { Name: `${spec.name}-${r.name}` } },
        ]),
      ),
      // Route53 failover takes one PRIMARY and one SECONDARY record per name: the primary region and
      // the first other region. Further regions stay reachable by their own names.
      aws_route53_record: Object.fromEntries(
        regions
          .filter(({ r }) => r.primary || r === others[0])
          .map(({ r, lb }) => [
            tfName(r.name),
            {
              zone_id: '${var.route53_zone_id}',
              name: zone,
              type: 'A',
              ttl: 60,
              records: [lb.address],
              set_identifier: r.name,
              failover_routing_policy: { type: r.primary ? 'PRIMARY' : 'SECONDARY' },
              health_check_id: `\${aws_route53_health_check.${tfName(r.name)}.id}`,
            },
          ]),
      ),
    },
  };
  b.add('global/route53.tf.json', `${JSON.stringify(route53, null, 2)}\n`, { checks: [{ tool: 'json' }] });
  const cloudflare = {
    '//': `${header(ctx, '#').split('\n')[0]!.replace(/^# /, '')} Cloudflare load balancer: pools per region in failover order, monitored on ${LB_HEALTH_PATH}.`,
    variable: { cloudflare_zone_id: { type: 'string' }, cloudflare_account_id: { type: 'string' } },
    resource: {
      cloudflare_load_balancer_monitor: {
        lb_health: { account_id: '${var.cloudflare_account_id}', type: useTls ? 'https' : 'http', method: 'GET', path: LB_HEALTH_PATH, port, expected_codes: '200', interval: 15, timeout: 5, retries: 2, description: `${spec.name} ${LB_HEALTH_PATH}` },
      },
      cloudflare_load_balancer_pool: Object.fromEntries(
        regions.map(({ r, lb }) => [
          tfName(r.name),
          { account_id: '${var.cloudflare_account_id}', name: `${spec.name}-${r.name}`, monitor: '${cloudflare_load_balancer_monitor.lb_health.id}', origins: [{ name: r.name, address: lb.address, enabled: true }], minimum_origins: 1 },
        ]),
      ),
      cloudflare_load_balancer: {
        app: {
          zone_id: '${var.cloudflare_zone_id}',
          name: zone,
          steering_policy: 'off',
          // Failover order: the primary region first; the others only while it is unhealthy.
          default_pool_ids: [primary, ...others].map((r) => `\${cloudflare_load_balancer_pool.${tfName(r.name)}.id}`),
          fallback_pool_id: `\${cloudflare_load_balancer_pool.${tfName(others[0]?.name ?? primary.name)}.id}`,
          proxied: true,
        },
      },
    },
  };
  b.add('global/cloudflare.tf.json', `${JSON.stringify(cloudflare, null, 2)}\n`, { checks: [{ tool: 'json' }] });

  b.add(
    'regions/README.md',
    renderTemplate(readmeSrc, {
      header: header(ctx, 'md').trimEnd(),
      name: spec.name,
      zone,
      primary: primary.name,
      others: others.map((r) => r.name),
      regions: regions.map(({ r, lb, domain }) => ({ name: r.name, primary: r.primary, address: lb.address, placeholder: lb.placeholder, domain, db: regionDbAddress(spec, r), appDb: appEndpoints(spec, r) })),
      appUser: d.user,
      pubHost,
      dbHa: d.ha,
      platform: spec.platform,
      storage: spec.storage.kind,
      lbHealth: LB_HEALTH_PATH,
      user: LOGICAL_USER,
      db: d.name,
      tls: d.tls,
    }),
  );
}
