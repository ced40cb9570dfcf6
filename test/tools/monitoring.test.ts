/**
 * Real tools on the monitoring files (issue 17): promtool check config / check rules / test rules,
 * amtool check-config and blackbox --config.check, through validate's own checkers, for each load
 * balancer and database mode. Then a rule broken the way a rename breaks it (a wrong metric name in
 * its expression): its generated firing test fails, so `ha-gen validate` fails, while promtool check
 * rules alone still passes it.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { render } from '../../src/render/index.js';
import { resolveSpec } from '../../src/spec/resolve.js';
import { CHECKERS, type CheckEnv } from '../../src/validate/checkers.js';
import type { CheckTool } from '../../src/render/bundle.js';
import { PATRONI_HOSTS } from '../helpers/presets.js';
import { skipUnlessTool } from '../helpers/tools.js';

const tools = skipUnlessTool(['promtool', 'amtool', 'prometheus-blackbox-exporter'], 'monitoring real-tool checks');
const MONITORING_TOOLS: CheckTool[] = ['promtool-config', 'promtool-rules', 'promtool-test', 'amtool', 'blackbox'];

const STREAMING_HOSTS = [
  { name: 'lb1', address: '10.0.1.5', roles: ['lb'] },
  { name: 'lb2', address: '10.0.1.6', roles: ['lb'] },
  { name: 'app1', address: '10.0.1.10', roles: ['app'] },
  { name: 'app2', address: '10.0.1.11', roles: ['app'] },
  { name: 'db1', address: '10.0.2.10', roles: ['db'] },
  { name: 'db2', address: '10.0.2.11', roles: ['db'] },
  { name: 'nfs1', address: '10.0.3.10', roles: ['storage'] },
];

const VARIANTS = [
  { id: 'haproxy-patroni-floating', values: { tier: 'multi-server', platform: 'hosts', loadBalancer: { kind: 'haproxy', floatingAddress: '10.0.1.4' }, storage: { kind: 'nfs' }, hosts: [...PATRONI_HOSTS, { name: 'lb2', address: '10.0.1.6', roles: ['lb'] }, { name: 'nfs1', address: '10.0.3.10', roles: ['storage'] }], monitoring: { webhookUrl: 'http://127.0.0.1:9099/hook', webhookUser: 'alerts', email: { smarthost: 'smtp.example.com', from: 'ha@example.com', to: ['ops@example.com'], user: 'ha@example.com' } } } },
  { id: 'nginx-streaming', values: { tier: 'multi-server', platform: 'hosts', database: { ha: 'streaming' }, storage: { kind: 'nfs' }, hosts: STREAMING_HOSTS } },
  { id: 'caddy-patroni-tls', values: { tier: 'multi-server', platform: 'hosts', domain: 'registry.example.com', loadBalancer: { kind: 'caddy', tls: 'files' }, storage: { kind: 'nfs' }, hosts: [...PATRONI_HOSTS, { name: 'lb2', address: '10.0.1.6', roles: ['lb'] }, { name: 'nfs1', address: '10.0.3.10', roles: ['storage'] }] } },
  // compose and swarm: the same generator aimed at service names and tasks.<service> DNS.
  { id: 'compose-nginx', values: { tier: 'single-server', platform: 'compose', loadBalancer: { kind: 'nginx' }, monitoring: { enabled: true, webhookUrl: 'http://hook:9999/alerts', webhookUser: 'alerts' } } },
  { id: 'swarm-haproxy-patroni-tls', values: { tier: 'multi-server', platform: 'swarm', domain: 'registry.example.com', loadBalancer: { kind: 'haproxy', tls: 'files' }, storage: { kind: 'nfs', nfsServer: 'nfs1' }, monitoring: { email: { smarthost: 'smtp.example.com', from: 'ha@example.com', to: ['ops@example.com'], user: 'ha@example.com' } } } },
];

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

/** The bundle's monitoring files in a folder, and a CheckEnv for validate's checkers. */
async function written(values: Record<string, unknown>): Promise<{ env: CheckEnv; files: Array<{ file: string; tool: CheckTool }> }> {
  const spec = resolveSpec([{ source: 'file', values: structuredClone(values) }]).spec;
  const bundle = render(spec, { version: 'test', specFile: 'ha-gen.yaml' });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ha-gen-mon-'));
  dirs.push(dir);
  const files: Array<{ file: string; tool: CheckTool }> = [];
  for (const [file, f] of bundle.files) {
    const mine = f.checks.filter((c) => MONITORING_TOOLS.includes(c.tool));
    if (!mine.length) continue;
    await fs.mkdir(path.join(dir, path.dirname(file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), f.contents);
    for (const c of mine) files.push({ file, tool: c.tool });
  }
  const env: CheckEnv = { bundleDir: dir, tmp: dir, sandbox: { dir, hostsFile: '', passwdFile: '', groupFile: '' }, manifest: { files: {}, secrets: [] } as unknown as CheckEnv['manifest'], shared: new Map() };
  return { env, files };
}

describe.skipIf(tools.skip)('real tools: monitoring files', { timeout: 120_000 }, () => {
  it.each(VARIANTS.map((v) => [v.id, v] as const))('%s: every monitoring check passes', async (_id, v) => {
    const { env, files } = await written(v.values);
    // hosts: two Prometheus hosts, each with config, rules, tests and blackbox; two Alertmanager peers.
    // compose and swarm: one set of files (swarm's two replicas read the same configs).
    const hosts = v.values.platform === 'hosts';
    expect(files.filter((f) => f.tool === 'promtool-test')).toHaveLength(hosts ? 2 : 1);
    expect(files.filter((f) => f.tool === 'amtool')).toHaveLength(hosts ? 2 : 1);
    const failed: string[] = [];
    // one Prometheus host is enough for the tools (the second's files differ only in replica)
    const first = files[0]!.file.split('/')[1];
    for (const f of files.filter((x) => !hosts || x.file.split('/')[1] === first || x.tool === 'amtool')) {
      const r = await CHECKERS[f.tool].run(env, f.file, { tool: f.tool } as never);
      if (!r.ok) failed.push(`${f.file} (${f.tool}): ${r.message}`);
    }
    expect(failed.join('\n')).toBe('');
  });

  it('a rule with a wrong metric name fails its generated test (validate fails), though check rules passes it', async () => {
    const { env, files } = await written(VARIANTS[0]!.values);
    const rules = files.find((f) => f.tool === 'promtool-rules')!.file;
    const test = files.find((f) => f.tool === 'promtool-test' && path.dirname(f.file) === path.dirname(rules))!.file;
    const abs = path.join(env.bundleDir, rules);
    const text = await fs.readFile(abs, 'utf8');
    const broken = text.replace('expr: probe_success{job="app-health"} == 0', 'expr: probe_succes{job="app-health"} == 0');
    expect(broken).not.toBe(text);
    await fs.writeFile(abs, broken);
    const syntax = await CHECKERS['promtool-rules'].run(env, rules, { tool: 'promtool-rules' });
    expect(syntax.ok, syntax.message).toBe(true);
    const r = await CHECKERS['promtool-test'].run(env, test, { tool: 'promtool-test' });
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/AppInstanceDown/);
    // only the broken alert's firing case fails
    expect(r.message).not.toMatch(/alertname: (?!AppInstanceDown)\w+,/);
  });
});
