/**
 * Live: the floating address of a Swarm bundle (issue 13, item 1: "on swarm lb nodes, state how it
 * runs there"). `ha-gen init --yes --tier multi-server --platform swarm`, floatingAddress moved to a
 * lab address, gives a keepalived service (stack.yml: global on the nodes labelled lb=true, host
 * network, NET_ADMIN/NET_BROADCAST/NET_RAW) whose config (keepalived/keepalived.conf) uses VRRP
 * multicast with equal priorities and nopreempt, since node addresses are not in the spec. There is
 * no Swarm here: two whole-host lab hosts stand for two lb nodes and run what the service's container
 * runs -- the stack's own entrypoint command (the auth include written from the secret file in
 * /run/secrets), with the bundle's config -- in their own network namespace, as a host-network
 * container does. A stand-in answers the LB's /lb-health on port 80 of each node. Faults: the
 * holder powered off; then the new holder's load balancer stops answering /lb-health (track_script).
 * Not proven here: Swarm itself (global placement, the configs and secrets it mounts, restarts), the
 * keepalived image built from keepalived/Dockerfile, and the capabilities inside a real container.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { cleanupTempDirs, ensureBuilt, runCli, tempDir } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';
import { createLab, sleep, waitUntil, type HostProcess, type Lab } from '../lab/lab.js';
import { labRequirements } from '../lab/requirements.js';
import { parseEnvironmentFile } from './harness/lab-units.js';

const req = labRequirements('live keepalived on swarm lb nodes');
const tools = req.skip ? req : skipUnlessTool(['keepalived', 'curl'], 'live keepalived on swarm lb nodes');
/** The node's load balancer, for the check and the client: answers every path with the node's name. */
const LB_STAND_IN = "require('http').createServer((q, s) => s.end(require('os').hostname())).listen(80, '0.0.0.0')";
const VIP = '127.0.78.100';
const NODES = [
  { name: 'lb1', address: '127.0.78.1' },
  { name: 'lb2', address: '127.0.78.2' },
];

describe.skipIf(req.skip || tools.skip)('live: the Swarm bundle\'s keepalived service on two lb nodes (whole-host lab)', { timeout: 180_000 }, () => {
  let lab: Lab;
  const lbs = new Map<string, HostProcess>();
  const figures: string[] = [];
  let entrypoint: string[] = [];
  const secretFiles: Array<[string, string]> = [];

  beforeAll(async () => {
    ensureBuilt();
    const dir = await tempDir('ha-gen-keepalived-swarm');
    const init = await runCli(['init', '--yes', '--tier', 'multi-server', '--platform', 'swarm', '--lb', 'haproxy'], { cwd: dir });
    expect(init.code, init.output).toBe(0);
    const doc = parseDocument(await fs.readFile(path.join(dir, 'ha-gen.yaml'), 'utf8'));
    doc.setIn(['loadBalancer', 'floatingAddress'], VIP);
    doc.setIn(['loadBalancer', 'floatingInterface'], 'eth0');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), doc.toString());
    const gen = await runCli(['generate'], { cwd: dir });
    expect(gen.code, gen.output).toBe(0);
    const out = path.join(dir, 'ha-bundle');
    const stack = parse(await fs.readFile(path.join(out, 'stack.yml'), 'utf8')) as { services: Record<string, { entrypoint: string[]; configs: Array<{ source: string; target: string }>; secrets: string[]; networks: string[]; deploy: { mode: string } }>; configs: Record<string, { file: string }>; secrets: Record<string, unknown> };
    const svc = Object.values(stack.services).find((s) => s.entrypoint?.some((a) => a.includes('keepalived')));
    expect(svc, 'a keepalived service in stack.yml').toBeTruthy();
    expect(svc!.deploy.mode).toBe('global');
    expect(svc!.networks).toEqual(['hostnet']);
    const env = parseEnvironmentFile(await fs.readFile(path.join(out, '.env'), 'utf8'));
    lab = await createLab({ hosts: [...NODES, { name: 'client', address: '127.0.78.3' }] });
    for (const n of NODES) {
      // What Swarm mounts into the container: each config at its target (a node's disk keeps it).
      for (const c of svc!.configs) await lab.writeFile(n.name, c.target, await fs.readFile(path.join(out, stack.configs[c.source]!.file)), { mode: 0o644 });
    }
    // Each secret in /run/secrets: .env's KEEPALIVED_PASSWORD, which deploy.sh turns into the secret.
    for (const sec of svc!.secrets) secretFiles.push([`/run/secrets/${sec}`, env.KEEPALIVED_PASSWORD!]);
    // The entrypoint as the stack has it; `$$` is the stack file's escape for a literal `$`.
    entrypoint = svc!.entrypoint.map((a) => a.replaceAll('$$', '$'));
    for (const n of NODES) await startNode(n.name);
  }, 120_000);

  afterAll(async () => {
    if (figures.length) console.log(`\nkeepalived (the Swarm bundle's config and entrypoint, multicast, equal priorities, nopreempt):\n  ${figures.join('\n  ')}\n`);
    await lab?.close();
    await cleanupTempDirs();
  });

  /** A node boots: Swarm mounts the secrets (/run is empty after a boot) and starts the global task; the LB runs. */
  async function startNode(name: string): Promise<void> {
    for (const [p, v] of secretFiles) await lab.writeFile(name, p, v, { mode: 0o400 });
    lbs.set(name, lab.spawn(name, [process.execPath, '-e', LB_STAND_IN], { name: 'lb-stand-in' }));
    lab.spawn(name, entrypoint, { name: 'keepalived' });
  }

  async function holder(): Promise<string | null> {
    const on: string[] = [];
    for (const n of NODES) {
      if (lab.host(n.name).state !== 'on') continue;
      const r = await lab.exec(n.name, ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'], { timeoutMs: 5000 });
      if (r.stdout.includes(` ${VIP}/`)) on.push(n.name);
    }
    expect(on.length, `nodes holding ${VIP}: ${on.join(', ')}`).toBeLessThanOrEqual(1);
    return on[0] ?? null;
  }

  /** Requests from the client every 20 ms (0.5 s timeout) until one is answered by `by`; seconds and failures. */
  async function until(by: string, t0: number): Promise<{ s: number; failed: number }> {
    let failed = 0;
    for (;;) {
      const r = await lab.http('client', `http://${VIP}/`, { timeoutMs: 500 });
      if (r.ok && r.body === by) return { s: (performance.now() - t0) / 1000, failed };
      failed++;
      if (performance.now() - t0 > 20_000) throw new Error(`${VIP} not answered by ${by} within 20 s`);
      await sleep(20);
    }
  }

  it('one lb node holds the address; power off the holder: the other answers within 4 s; its LB stops answering /lb-health: the address moves back', async () => {
    const first = await waitUntil('one lb node to hold the floating address', holder, 30_000, 250);
    await waitUntil('the address to answer', async () => (await lab.http('client', `http://${VIP}/`, { timeoutMs: 500 })).ok, 10_000, 50);
    const second = NODES.find((n) => n.name !== first)!.name;
    await sleep(3000); // both checks rise (2 x 1 s)

    await lab.powerOff(first);
    const off = await until(second, performance.now());
    figures.push(`power off ${first} (holder): ${second} answered ${off.s.toFixed(1)} s later, ${off.failed} requests failed before`);
    expect(off.s, 'the address answers from the other node within 4 s').toBeLessThanOrEqual(4);
    expect(await holder()).toBe(second);

    // The powered-off node comes back (Swarm restarts its task): nopreempt, the address stays.
    await lab.powerOn(first);
    await startNode(first);
    await sleep(5000);
    expect(await holder(), `nopreempt: ${first} back, the address stays on ${second}`).toBe(second);

    // The holder's load balancer stops answering /lb-health: its check fails (fall 2, interval 1 s)
    // and the address moves to the node whose LB answers.
    await lbs.get(second)!.stop('SIGKILL', 0);
    const t1 = performance.now();
    const moved = await until(first, t1);
    figures.push(`the LB on ${second} (holder) stops: ${first} answered ${moved.s.toFixed(1)} s later, ${moved.failed} requests failed before`);
    expect(moved.s, 'the address moves within 6 s of the LB stopping').toBeLessThanOrEqual(6);
    expect(await holder()).toBe(first);
  });
});
