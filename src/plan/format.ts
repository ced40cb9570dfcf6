/** A Plan as text (terminal), markdown (bundle README) and a Mermaid topology diagram. */
import type { Plan, FailureCase } from './index.js';

const MARK: Record<FailureCase['survived'], string> = { yes: 'yes', manual: 'with a person', no: 'NO' };

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function planText(plan: Plan): string {
  const out: string[] = [];
  out.push(`${plan.name}: tier ${plan.tier}, platform ${plan.platform}, load balancer ${plan.loadBalancer}, database ${plan.database}, storage ${plan.storage}`);
  if (plan.regions.length) out.push(`regions: ${plan.regions.join(', ')}`);
  out.push('', 'Hosts and services');
  for (const h of plan.hosts) {
    out.push(`  ${h.name}${h.address ? ` (${h.address})` : ''}${h.region ? ` [${h.region}]` : ''}  roles: ${h.roles.join(', ')}`);
    for (const s of h.services) {
      const ports = s.ports.map((p) => `${p.port}${p.exposure === 'public' ? ' public' : p.exposure === 'localhost' ? ' local-only' : ''}`).join(', ');
      out.push(`    - ${s.name}${ports ? ` [${ports}]` : ''}: ${s.what}`);
    }
  }
  out.push('', 'Ports');
  out.push(...table([['host', 'service', 'port', 'reach', 'what'], ...plan.ports.map((p) => [p.host, p.service, String(p.port), p.exposure, p.what])]).map((l) => `  ${l}`));
  out.push('', 'Failures');
  out.push(...table([['failure', 'survived', 'RTO', 'RPO'], ...plan.failures.map((f) => [f.failure, MARK[f.survived], f.rto, f.rpo])]).map((l) => `  ${l}`));
  for (const f of plan.failures) out.push(`  * ${f.failure}: ${f.how}`);
  const a = plan.availability;
  out.push('', 'Availability');
  out.push(`  guide's figure for ${plan.tier}: ${a.guide} (${a.guideDowntime})`);
  out.push(`  composite estimate: ${a.compositeText} (${a.downtimePerYear})`);
  out.push(`  ${a.formula}`);
  for (const t of a.terms) out.push(`    ${t.component}: ${t.needed > 1 ? `${t.needed} of ${t.members}` : `${t.members} member(s)`}, a = ${t.perMember} -> ${t.value}`);
  for (const x of a.assumptions) out.push(`  assumes ${x}`);
  const r = plan.recovery;
  out.push('', 'Recovery');
  out.push(`  backups: ${r.backupSchedule}; ${r.dumpSchedule}`);
  out.push(`  retention: ${r.retention}`);
  out.push(`  WAL archiving: archive_timeout ${r.archiveTimeout} s -> RPO ≤ ${r.rpoSeconds} s when the archive survives the failure`);
  if (r.patroni) out.push(`  Patroni: ttl ${r.patroni.ttl} s, loop_wait ${r.patroni.loopWait} s, retry_timeout ${r.patroni.retryTimeout} s -> failover RTO ≤ ~${r.patroni.failoverSeconds} s`);
  out.push('', plan.warnings.length ? 'Warnings' : 'Warnings: none');
  for (const w of plan.warnings) out.push(`  ! ${w}`);
  return `${out.join('\n')}\n`;
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|');

/**
 * Hosts shown one by one up to COLLAPSE_AT of a kind; past that, hosts with the same services
 * (and region) are one entry, "N hosts: first … last". A diagram or table of thousands of
 * identical app hosts tells nothing more, and GitHub stops drawing Mermaid past 50 000 characters.
 */
export const COLLAPSE_AT = 6;

interface HostGroup {
  /** the host itself, or "N hosts: first … last" */
  label: string;
  id: string;
  hosts: Plan['hosts'];
}

function hostGroups(plan: Plan): HostGroup[] {
  const id = (s: string) => s.replace(/[^A-Za-z0-9]/g, '_');
  const bySig = new Map<string, Plan['hosts']>();
  for (const h of plan.hosts) {
    const sig = `${h.region ?? ''}|${h.services.map((x) => `${x.kind}:${x.name}`).join(',')}`;
    let g = bySig.get(sig);
    if (!g) bySig.set(sig, (g = []));
    g.push(h);
  }
  const out: HostGroup[] = [];
  const done = new Set<Plan['hosts'][number]>();
  for (const h of plan.hosts) {
    if (done.has(h)) continue;
    const g = bySig.get(`${h.region ?? ''}|${h.services.map((x) => `${x.kind}:${x.name}`).join(',')}`)!;
    if (g.length > COLLAPSE_AT) {
      g.forEach((x) => done.add(x));
      out.push({ label: `${g.length} hosts: ${g[0]!.name} … ${g[g.length - 1]!.name}`, id: `${id(g[0]!.name)}_and_${g.length - 1}`, hosts: g });
    } else {
      done.add(h);
      out.push({ label: `${h.name}${h.address ? ` ${h.address}` : ''}`, id: id(h.name), hosts: [h] });
    }
  }
  return out;
}

/** Mermaid flowchart: clients -> LB -> app -> DB endpoint -> members, storage and backups. */
export function planMermaid(plan: Plan): string {
  const id = (s: string) => s.replace(/[^A-Za-z0-9]/g, '_');
  const lines = ['flowchart TD', '  clients([clients])'];
  const groups = hostGroups(plan);
  const groupOf = new Map(groups.flatMap((g) => g.hosts.map((h) => [h, g] as const)));
  // one node per service of a shown host or group
  const byKind = (k: string) => {
    const seen = new Set<string>();
    return plan.hosts.flatMap((h) => h.services.filter((s) => s.kind === k).map((s) => `${groupOf.get(h)!.id}__${id(s.name)}`)).filter((n) => !seen.has(n) && !!seen.add(n));
  };
  for (const g of groups) {
    lines.push(`  subgraph ${g.id}["${g.label}"]`);
    for (const s of g.hosts[0]!.services) lines.push(`    ${g.id}__${id(s.name)}["${s.name}"]`);
    lines.push('  end');
  }
  const lbs = byKind('lb');
  const apps = byKind('app');
  const dbs = byKind('db');
  const eps = byKind('db-endpoint');
  const etcd = byKind('etcd');
  const storage = byKind('storage');
  const backup = byKind('backup');
  for (const l of lbs) lines.push(`  clients --> ${l}`);
  for (const l of lbs) for (const a of apps) lines.push(`  ${l} --> ${a}`);
  const dbTargets = eps.length ? eps : dbs.slice(0, 1);
  for (const a of apps) for (const d of dbTargets) lines.push(`  ${a} --> ${d}`);
  for (const e of eps) for (const d of dbs) lines.push(`  ${e} -.-> ${d}`);
  if (plan.database !== 'none') for (const d of dbs.slice(1)) if (plan.database === 'streaming') lines.push(`  ${dbs[0]!} -- WAL --> ${d}`);
  for (const e of etcd) for (const d of dbs) lines.push(`  ${d} -.- ${e}`);
  for (const st of storage) for (const a of apps) lines.push(`  ${a} --- ${st}`);
  for (const b of backup.slice(0, 1)) lines.push(`  ${dbs[0]!} -- archive + backups --> ${b}`);
  return `${lines.join('\n')}\n`;
}

/** The README section: the plan summary and the diagram. */
export function planMarkdown(plan: Plan): string {
  const out: string[] = [];
  out.push('## Topology', '', '```mermaid', planMermaid(plan).trimEnd(), '```', '');
  out.push('| host | services (ports) |', '|---|---|');
  for (const g of hostGroups(plan)) {
    const h = g.hosts[0]!;
    const who = g.hosts.length > 1 ? `${mdCell(g.label)} (addresses in the spec file)` : `${mdCell(h.name)}${h.address ? ` (${h.address})` : ''}`;
    out.push(`| ${who} | ${h.services.map((s) => `${mdCell(s.name)}${s.ports.length ? ` (${s.ports.map((p) => p.port).join(', ')})` : ''}`).join('; ')} |`);
  }
  out.push('', '## Failures it survives', '', '| failure | survived | RTO | RPO | how |', '|---|---|---|---|---|');
  for (const f of plan.failures) out.push(`| ${mdCell(f.failure)} | ${MARK[f.survived]} | ${mdCell(f.rto)} | ${mdCell(f.rpo)} | ${mdCell(f.how)} |`);
  const a = plan.availability;
  out.push('', '## Expected availability', '');
  out.push(`The guide's figure for tier ${plan.tier}: **${a.guide}** (${a.guideDowntime}). Composite estimate from the components generated here: **${a.compositeText}** (${a.downtimePerYear}).`, '');
  out.push('`' + a.formula + '`', '');
  out.push('| component | members | per member | layer |', '|---|---|---|---|');
  for (const t of a.terms) out.push(`| ${mdCell(t.component)} | ${t.needed > 1 ? `${t.needed} of ${t.members}` : t.members} | ${t.perMember} | ${t.value} |`);
  out.push('', ...a.assumptions.map((x) => `- assumes ${x}`));
  const r = plan.recovery;
  out.push('', '## Recovery objectives', '', `- Backups: ${r.backupSchedule}; ${r.dumpSchedule}. Retention: ${r.retention}.`, `- WAL archiving: \`archive_timeout\` ${r.archiveTimeout} s, so a lost database loses at most ${r.rpoSeconds} s of commits when the archive survives it.`);
  if (r.patroni) out.push(`- Patroni: ttl ${r.patroni.ttl} s, loop_wait ${r.patroni.loopWait} s, retry_timeout ${r.patroni.retryTimeout} s: automatic failover within ~${r.patroni.failoverSeconds} s.`);
  if (plan.warnings.length) out.push('', '## Warnings', '', ...plan.warnings.map((w) => `- ${w}`));
  return `${out.join('\n')}\n`;
}
