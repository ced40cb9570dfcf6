/**
 * A host firewall from the deployment's flows (platform hosts): per host, an nftables table that lets
 * in exactly the connections the model says end on that host, SSH from firewall.adminCidrs, and
 * nothing else. Loaded by a oneshot unit; deploy.sh applies it first, behind a rollback timer.
 */
import type { Host, Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { renderUnit, sandbox, type Unit } from '../systemd/index.js';
import { deploymentOf, flowsOf, type Deployment, type Flow } from '../../model/index.js';
import { isIpv4, nameSlug, unitNames } from '../../model/constants.js';
import { hostFile } from '../hosts/plan.js';
import source from '../../../templates/firewall/ruleset.nft.hbs?raw';

export const firewallTable = (spec: Spec) => `ha_gen_${nameSlug(spec)}`;
export const firewallFile = (spec: Spec) => `/etc/${spec.name}/firewall.nft`;
/** Seconds after which deploy.sh's rollback removes a ruleset that was not confirmed by a new SSH login. */
export const ROLLBACK_SECONDS = 120;

interface Rule {
  rule: string;
  why: string;
}

/** The flows that end on `host` (directly, or on a floating address it can hold). */
function inbound(dep: Deployment, host: string): Flow[] {
  const holds = new Set(dep.floating.filter((f) => f.holders.includes(host)).map((f) => f.address));
  return flowsOf(dep).filter((f) => f.to === host || (f.to === 'floating' && holds.has(f.address)));
}

export function firewallRules(spec: Spec, host: string, dep: Deployment = deploymentOf(spec)): { input: Rule[]; forward: Rule[]; forwardDrop: number[] } {
  const me = dep.hosts.find((h) => h.name === host)!;
  const addressOf = (name: string) => dep.hosts.find((h) => h.name === name)?.address;
  // Ports Docker publishes on this host (the app, MinIO): their services run from an image.
  const published = new Set(me.services.filter((s) => s.packages.includes('docker.io')).flatMap((s) => s.ports.filter((p) => p.bind !== '127.0.0.1').map((p) => p.port)));
  const groups = new Map<string, { proto: Flow['proto']; port: number; sources: Set<string>; any: boolean; self: Set<string>; purposes: Set<string> }>();
  for (const f of inbound(dep, host)) {
    const key = `${f.proto}/${f.port}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { proto: f.proto, port: f.port, sources: new Set(), any: false, self: new Set(), purposes: new Set() }));
    g.purposes.add(f.purpose);
    const from = f.from === 'clients' ? undefined : addressOf(f.from);
    if (f.from === 'clients') g.any = true;
    // Monitoring's own scrapes of this host come from the host itself (loopback), not its containers.
    else if (f.from === host) {
      if (f.purpose !== 'metrics' && f.purpose !== 'alerts') g.self.add(f.purpose);
    }
    else if (from && isIpv4(from)) g.sources.add(from);
    // A source known only by name: nftables cannot match it offline, so that port is open to all.
    else g.any = true;
  }
  const input: Rule[] = [];
  const forward: Rule[] = [];
  for (const g of [...groups.values()].sort((a, b) => a.port - b.port || (a.proto < b.proto ? -1 : 1))) {
    const why = [...g.purposes].sort().join(', ');
    const saddr = g.any ? '' : `ip saddr { ${[...g.sources].sort().join(', ')} } `;
    if (g.proto === 'vrrp') {
      if (g.sources.size || g.any) input.push({ rule: `${saddr}ip protocol vrrp`, why });
      continue;
    }
    if (g.sources.size || g.any) input.push({ rule: `${saddr}${g.proto} dport ${g.port}`, why });
    // The host's own containers reach its address through docker0 (the app to its database endpoint).
    if (g.self.size) input.push({ rule: `iifname "docker0" ${g.proto} dport ${g.port}`, why: `${[...g.self].sort().join(', ')} (this host's containers)` });
    // Matched on the port the client dialled (before DNAT): the green instance publishes 8211 onto the container's 8210.
    if (published.has(g.port) && (g.sources.size || g.any)) forward.push({ rule: `${saddr}meta l4proto ${g.proto} ct original proto-dst ${g.port}`, why });
  }
  return { input, forward, forwardDrop: [...published].sort((a, b) => a - b) };
}

export function firewallUnit(spec: Spec): Unit {
  return {
    Unit: [['Description', `Firewall of ${spec.name} (ha-gen): only the deployment's connections`], ['After', 'network-pre.target'], ['Wants', 'network-pre.target']],
    Service: [
      ['Type', 'oneshot'],
      ['RemainAfterExit', 'yes'],
      ['ExecStart', `/usr/sbin/nft -f ${firewallFile(spec)}`],
      ['ExecReload', `/usr/sbin/nft -f ${firewallFile(spec)}`],
      ['ExecStop', `/usr/sbin/nft delete table inet ${firewallTable(spec)}`],
      ...sandbox({ system: 'strict', caps: ['CAP_NET_ADMIN'], families: ['AF_UNIX', 'AF_NETLINK'] }),
    ],
    Install: [['WantedBy', 'multi-user.target']],
  };
}

/** The ruleset and its unit on every host of the inventory. */
export function renderFirewallHosts(spec: Spec, ctx: RenderContext, b: BundleBuilder, hosts: Host[]): void {
  if (!spec.firewall.enabled) return;
  const dep = deploymentOf(spec);
  const admin = spec.firewall.adminCidrs;
  const ssh = admin.includes('0.0.0.0/0') ? '' : `ip saddr { ${[...admin].sort().join(', ')} } `;
  const unit = unitNames(spec).firewall;
  for (const h of hosts) {
    const r = firewallRules(spec, h.name, dep);
    const text = renderTemplate(source, { header: header(ctx).trimEnd(), host: h.name, name: spec.name, table: firewallTable(spec), unit, sshPort: spec.firewall.sshPort, ssh, ...r });
    b.add(hostFile(h, firewallFile(spec)), text, { mode: 0o600, checks: [{ tool: 'nft' }] });
    b.add(hostFile(h, `/etc/systemd/system/${unit}.service`), renderUnit(firewallUnit(spec), ctx), { checks: [{ tool: 'systemd' }] });
  }
}
