/**
 * The floating address on platform hosts: keepalived (VRRP) on every lb host, from Debian's package.
 * One address moves to another lb host when the holder dies or its load balancer stops answering.
 */
import type { Host, Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder, SecretDef } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { renderUnit, sandbox, type Unit } from '../systemd/index.js';
import { LB_HEALTH_PATH } from '../../model/constants.js';
import { addSteps, hostFile, type HostsPlan } from '../hosts/plan.js';
import source from '../../../templates/keepalived/keepalived.conf.hbs?raw';
import swarmSource from '../../../templates/keepalived/keepalived-swarm.conf.hbs?raw';
import dockerfileSource from '../../../templates/keepalived/Dockerfile.hbs?raw';

export const KEEPALIVED_CONFIG = '/etc/keepalived/keepalived.conf';
export const keepalivedAuthFile = (spec: Spec) => `/etc/keepalived/${spec.name}-auth.conf`;
/** VRRP PASS authentication carries at most 8 characters. */
export const KEEPALIVED_SECRET: SecretDef = { name: 'KEEPALIVED_PASSWORD', help: 'VRRP password of the lb hosts\' floating address (keepalived; PASS authentication takes 8 characters).', length: 8 };

/** The kernel takes a 127/8 address on a non-loopback interface only with scope host (test labs). */
const isLoopback = (a: string) => a.startsWith('127.');

/** Seconds until another host holds the address after the holder dies: 3 missed adverts + skew. */
export const TAKEOVER_SECONDS = 4;

export function keepalivedUnit(spec: Spec): Unit {
  return {
    Unit: [
      ['Description', `keepalived: floating address ${spec.loadBalancer.floatingAddress} for ${spec.name} (ha-gen)`],
      ['After', `network-online.target ${spec.loadBalancer.kind}.service`],
      ['Wants', 'network-online.target'],
    ],
    Service: [
      ['Type', 'simple'],
      ['ExecStart', `/usr/sbin/keepalived --dont-fork --vrrp --log-console --log-detail --use-file ${KEEPALIVED_CONFIG}`],
      ['ExecReload', '/bin/kill -HUP $MAINPID'],
      ['KillMode', 'process'],
      ['Restart', 'always'],
      ['RestartSec', '1s'],
      // Adds and removes the address (netlink), sends VRRP (raw IP) and gratuitous ARP (packet sockets),
      // runs the check script as nobody and stops it when it hangs.
      ...sandbox({ system: 'strict', caps: ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_NET_BROADCAST', 'CAP_SETUID', 'CAP_SETGID', 'CAP_KILL'], families: ['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_PACKET'], writable: ['-/run/keepalived'] }),
    ],
    Install: [['WantedBy', 'multi-user.target']],
  };
}

/** keepalived.conf, its unit and the password file step, on every lb host. */
export function renderKeepalivedHosts(spec: Spec, ctx: RenderContext, b: BundleBuilder, plan: HostsPlan, lbs: Host[]): void {
  const address = spec.loadBalancer.floatingAddress;
  if (!address) return;
  b.secret(KEEPALIVED_SECRET);
  lbs.forEach((h, i) => {
    const conf = renderTemplate(source, {
      header: header(ctx).trimEnd(),
      name: spec.name,
      address,
      holders: lbs.map((x) => x.name).join(', '),
      lb: spec.loadBalancer.kind,
      healthPath: LB_HEALTH_PATH,
      takeover: TAKEOVER_SECONDS,
      hostName: h.name,
      httpPort: spec.loadBalancer.httpPort,
      instance: `${spec.name.replaceAll('-', '_')}_front`,
      interface: spec.loadBalancer.floatingInterface,
      routerId: spec.loadBalancer.vrrpRouterId,
      // Distinct priorities only break the tie at the very first start; nopreempt keeps the holder.
      priority: Math.max(150 - 10 * i, 1),
      self: h.address,
      peers: lbs.filter((x) => x !== h).map((x) => x.address),
      secret: KEEPALIVED_SECRET.name,
      authFile: keepalivedAuthFile(spec),
      loopback: isLoopback(address),
    });
    b.add(hostFile(h, KEEPALIVED_CONFIG), conf, { checks: [{ tool: 'keepalived' }] });
    b.add(hostFile(h, '/etc/systemd/system/keepalived.service'), renderUnit(keepalivedUnit(spec), ctx), { checks: [{ tool: 'systemd' }] });
    addSteps(plan, h, 'vrrp', { envFile: { path: keepalivedAuthFile(spec), raw: true, entries: [{ name: KEEPALIVED_SECRET.name, value: `auth_pass $${KEEPALIVED_SECRET.name}` }] } });
  });
}

export const keepalivedImage = (spec: Spec) => `${spec.name}-keepalived:bookworm`;

/**
 * Swarm: a global service on the lb nodes in the host's network namespace (the address is on the
 * node's interface), with the capabilities VRRP needs; config as a Swarm config, password as a secret.
 */
export function keepalivedSwarm(spec: Spec, ctx: RenderContext, b: BundleBuilder, configName: (key: string, text: string) => string, swarmSecret: (key: string, def: SecretDef) => string): { service: Record<string, unknown>; configs: Record<string, unknown> } | null {
  const address = spec.loadBalancer.floatingAddress;
  if (!address) return null;
  const authFile = '/run/keepalived-auth.conf';
  const conf = renderTemplate(swarmSource, {
    header: header(ctx).trimEnd(),
    name: spec.name,
    address,
    interface: spec.loadBalancer.floatingInterface,
    lb: spec.loadBalancer.kind,
    healthPath: LB_HEALTH_PATH,
    httpPort: spec.loadBalancer.httpPort,
    instance: `${spec.name.replaceAll('-', '_')}_front`,
    routerId: spec.loadBalancer.vrrpRouterId,
    secret: KEEPALIVED_SECRET.name,
    authFile,
    loopback: isLoopback(address),
  });
  b.add('keepalived/keepalived.conf', conf, { checks: [{ tool: 'keepalived' }] });
  b.add('keepalived/Dockerfile', renderTemplate(dockerfileSource, { header: header(ctx).trimEnd(), image: keepalivedImage(spec) }));
  const cfg = configName('keepalived_conf', conf);
  const secret = swarmSecret('keepalived_password', KEEPALIVED_SECRET);
  return {
    configs: { [cfg]: { file: './keepalived/keepalived.conf' } },
    service: {
      image: keepalivedImage(spec),
      entrypoint: ['/bin/sh', '-c', `umask 077 && printf 'auth_pass %s\\n' "$$(cat /run/secrets/${secret})" > ${authFile} && exec /usr/sbin/keepalived --dont-fork --vrrp --log-console --log-detail --use-file /etc/keepalived/keepalived.conf`],
      configs: [{ source: cfg, target: '/etc/keepalived/keepalived.conf' }],
      secrets: [secret],
      cap_add: ['NET_ADMIN', 'NET_BROADCAST', 'NET_RAW'],
      networks: ['hostnet'],
      deploy: { mode: 'global', placement: { constraints: ['node.labels.lb == true'] }, restart_policy: { condition: 'any', delay: '1s' } },
    },
  };
}
