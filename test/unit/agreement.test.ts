/**
 * plan, README.md, RUNBOOK.md, smoke.sh and deploy.sh agree on every host's services and ports, for
 * every golden spec: they are all read from one deployment model, and this proves the files say so.
 */
import { describe, expect, it } from 'vitest';
import { render } from '../../src/render/index.js';
import { buildPlan, type Plan } from '../../src/plan/index.js';
import { PRESETS, presetSpec } from '../helpers/presets.js';

const ctx = { version: '0.0.0-test', specFile: 'ha-gen.yaml' };
const isUnit = (name: string) => /^[A-Za-z0-9@_.-]+$/.test(name);

/** host -> {address, units} from a hosts deploy.sh's case table. */
function deployTable(sh: string): Map<string, { address: string; units: string[] }> {
  const out = new Map<string, { address: string; units: string[] }>();
  for (const m of sh.matchAll(/^ {2}([a-z0-9-]+)\)\n {4}address="([^"]+)"\n {4}units=\(([^)]*)\)$/gm)) {
    out.set(m[1]!, { address: m[2]!, units: m[3]!.split(' ').filter(Boolean) });
  }
  return out;
}

/** The README's "host | services (ports)" table: host -> "service (p1, p2)" cells. */
function readmeTable(md: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const start = md.indexOf('| host | services (ports) |');
  for (const line of md.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('| ')) break;
    const [, host, services] = /^\| (.+?) \| (.*) \|$/.exec(line)!;
    out.set(host!.replace(/ \(.*\)$/, ''), services!.split('; '));
  }
  return out;
}

const bashArray = (sh: string, name: string) => {
  const m = new RegExp(`^\\s*${name}=\\(([^)]*)\\)$`, 'm').exec(sh);
  return m ? [...m[1]!.matchAll(/'([^']*)'/g)].map((x) => x[1]!) : null;
};

const portsOf = (plan: Plan, host: string) => plan.hosts.find((h) => h.name === host)!.services.flatMap((s) => s.ports.map((p) => p.port));

describe.each(PRESETS.map((p) => [p.id, p] as const))('%s: plan, README, RUNBOOK, smoke.sh and deploy.sh agree', (_id, preset) => {
  const spec = presetSpec(preset);
  const bundle = render(spec, ctx);
  const file = (p: string) => bundle.files.get(p)?.contents ?? '';
  const plan = buildPlan(spec);
  const hosts = spec.platform === 'hosts';

  it('README: every host of the plan with each of its services and ports, and nothing else', () => {
    const table = readmeTable(file('README.md'));
    expect([...table.keys()].sort()).toEqual(plan.hosts.map((h) => h.name).sort());
    for (const h of plan.hosts) {
      expect(table.get(h.name), h.name).toEqual(h.services.map((s) => `${s.name}${s.ports.length ? ` (${s.ports.map((p) => p.port).join(', ')})` : ''}`));
    }
  });

  it.runIf(hosts)('deploy.sh: each host starts exactly the units plan lists for it, in plan\'s order', () => {
    const scripts = spec.tier === 'multi-region' ? spec.regions.map((r) => file(`regions/${r.name}/deploy.sh`)) : [file('deploy.sh')];
    const table = new Map(scripts.flatMap((s) => [...deployTable(s)]));
    const deployed = plan.hosts.filter((h) => !h.external);
    expect([...table.keys()].sort()).toEqual(deployed.map((h) => h.name).sort());
    for (const h of deployed) {
      expect(table.get(h.name)!.address).toBe(h.address);
      expect(table.get(h.name)!.units, h.name).toEqual(h.services.map((s) => s.name).filter(isUnit));
    }
  });

  it('smoke.sh: the front door, every app instance and every database endpoint are the plan\'s, on the plan\'s ports', () => {
    const sh = file('smoke.sh');
    const lbs = plan.hosts.filter((h) => h.services.some((s) => s.kind === 'lb'));
    const httpPort = spec.loadBalancer.httpPort;
    for (const h of lbs) expect(portsOf(plan, h.name)).toContain(httpPort);
    expect(sh).toContain(`http://$host:${httpPort}`);
    if (hosts) {
      // the floating address(es) first, then every lb host
      const floating = plan.flows.filter((f) => f.from === 'clients' && f.to === 'floating').map((f) => f.address);
      expect(bashArray(sh, 'lbs')).toEqual([...new Set([...floating, ...lbs.map((h) => h.address)])]);
      const apps = plan.hosts.filter((h) => h.services.some((s) => s.kind === 'app'));
      expect(bashArray(sh, 'apps')).toEqual(apps.map((h) => `${h.name}=${h.address}`));
      for (const h of apps) expect(portsOf(plan, h.name)).toContain(spec.app.port);
      expect(sh).toContain(`http://$address:${spec.app.port}`);
      // the endpoints smoke.sh checks are the ones the apps' DATABASE_URLs name, and plan has a listener there
      const endpoints = bashArray(sh, 'endpoints')!;
      const deploySh = spec.tier === 'multi-region' ? spec.regions.map((r) => file(`regions/${r.name}/deploy.sh`)).join('\n') : file('deploy.sh');
      const urls = [...new Set([...deploySh.matchAll(/DATABASE_URL "postgres:\/\/[^@]+@([^/]+)\//g)].map((m) => m[1]!))];
      expect(endpoints.sort()).toEqual(urls.sort());
      for (const ep of endpoints) {
        const [address, port] = ep.split(':');
        const h = plan.hosts.find((x) => x.address === address);
        expect(h, ep).toBeDefined();
        expect(portsOf(plan, h!.name), ep).toContain(Number(port));
      }
    } else {
      const names = plan.hosts.flatMap((h) => h.services.map((s) => s.name));
      for (const app of bashArray(sh, 'apps') ?? []) expect(names).toContain(app);
    }
  });

  it('RUNBOOK.md: every unit or service it names on a host runs there according to plan', () => {
    const md = file('RUNBOOK.md');
    if (hosts) {
      const byAddress = new Map(plan.hosts.map((h) => [h.address, h]));
      const named = [...md.matchAll(/ssh root@([0-9a-z.-]+) "?(?:systemctl (?:status|stop|reload) |journalctl -f?u )([A-Za-z0-9@_.-]+)/g)];
      expect(named.length).toBeGreaterThan(0);
      for (const [, address, unit] of named) {
        const h = byAddress.get(address!);
        expect(h, address).toBeDefined();
        expect(h!.services.map((s) => s.name), `${unit} on ${h!.name}`).toContain(unit!.replace(/\.service$/, ''));
      }
    } else {
      const names = new Set(plan.hosts.flatMap((h) => h.services.map((s) => s.name)));
      // the first word after the subcommand that is neither an option nor an option's value
      const named = [...md.matchAll(/docker (?:service (?:ps|logs|scale|update)|compose (?:ps|restart))((?: [^ `\n#]+)+)/g)].map((m) => {
        const words = m[1]!.trim().split(' ');
        const i = words.findIndex((w, k) => !w.startsWith('-') && words[k - 1] !== '--since');
        return words[i]!.replace(/=\d+$/, '');
      });
      expect(named.length).toBeGreaterThan(0);
      for (const n of named) expect(names, n).toContain(n);
    }
  });
});
