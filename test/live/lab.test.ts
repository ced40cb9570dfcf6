/**
 * Live: the whole-host lab's primitives (test/lab/). Three lab hosts on 127.0.77.1-3, each its own
 * network, mount and PID namespaces on a lab bridge; a tiny HTTP server on host a, clients on b.
 * Proves: a's server is reachable from b by a's address; power-off (link down, every process of a
 * SIGKILLed at once: checked by PID), power-on, partition (a unreachable, its processes alive),
 * heal, freeze (every process stopped: requests time out), thaw; each host's own /etc/hosts,
 * /var/lib, /run; and that close() leaves nothing behind. The same faults in 'signals' mode (the
 * fallback without cgroup v2) on a second, smaller lab; a run that exits without close() or is
 * SIGKILLed; and, when keepalived is installed, a VRRP floating address that moves when its holder
 * is powered off. Loopback-range addresses only (127.0.77-79.x); every wait is bounded; ~30 s.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, stop as stopEsbuild } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessTool } from '../helpers/tools.js';
import { createLab, processState, sweepStale, waitUntil, type HostProcess, type Lab } from '../lab/lab.js';
import { labRequirements } from '../lab/requirements.js';

const req = labRequirements('live whole-host lab');

const HOSTS = [
  { name: 'a', address: '127.0.77.1' },
  { name: 'b', address: '127.0.77.2' },
  { name: 'c', address: '127.0.77.3' },
];
const PORT = 8080;
const URL_A = `http://${HOSTS[0]!.address}:${PORT}/`;
/** The server: answers with the host name it runs on. node -e puts its first argument in argv[1]. */
const SERVER = `require('http').createServer((q, s) => s.end(require('os').hostname())).listen(${PORT}, process.argv[1], () => console.log('listening'))`;
/** A user that is not root: postgres when installed (the lab's reason to have users), else nobody. */
const USER = readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('postgres:')) ? 'postgres' : 'nobody';

const pidGone = (p: number) => {
  const s = processState(p);
  return s === null || s === 'Z';
};

function startServer(lab: Lab, host = 'a', bind = lab.address(host)): HostProcess {
  return lab.spawn(host, [process.execPath, '-e', SERVER, bind], { user: USER, name: 'http-server' });
}

async function reachable(lab: Lab, from: string, url: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  await waitUntil(`${url} to answer ${from}`, async () => (await lab.http(from, url, { timeoutMs: 500 })).ok, timeoutMs, 20);
  return performance.now() - t0;
}

const timings: string[] = [];
const f = (v: number) => `${v.toFixed(1)} ms`;
afterAll(() => {
  if (timings.length) console.log(`\nWhole-host lab timings:\n  ${timings.join('\n  ')}\n`);
});

describe.skipIf(req.skip)('live: whole-host lab (cgroup v2 faults when available)', { timeout: 60_000 }, () => {
  let lab: Lab;
  let server: HostProcess;

  beforeAll(async () => {
    const t0 = performance.now();
    lab = await createLab({ hosts: HOSTS, powerOn: false });
    const made = performance.now() - t0;
    const boots = [];
    for (const h of HOSTS) boots.push(await lab.powerOn(h.name));
    timings.push(`lab (${lab.faults} mode): bridge and folders ${f(made)}; boot per host ${boots.map(f).join(', ')}`);
  });

  afterAll(async () => {
    await lab?.close();
  });

  it('gives every host its own name, /etc/hosts, /var/lib, /run and a read-only rest of the machine', async () => {
    const hostsA = await lab.exec('a', ['cat', '/etc/hosts']);
    for (const h of HOSTS) expect(hostsA.stdout).toMatch(new RegExp(`^${h.address.replace(/\./g, '\\.')}\\s+${h.name}$`, 'm'));
    expect((await lab.exec('a', ['getent', 'hosts', 'c'])).stdout).toMatch(/^127\.0\.77\.3\s+c$/m);
    expect((await lab.exec('b', ['hostname'])).stdout.trim()).toBe('b');

    // A file written on a is on a's disk only: not on b, not on the machine.
    const probe = `/var/lib/hglab-probe-${process.pid}`;
    expect((await lab.exec('a', ['sh', '-c', `echo from-a > ${probe} && cat ${probe}`])).stdout).toBe('from-a\n');
    expect((await lab.exec('b', ['test', '-e', probe])).code).toBe(1);
    expect(existsSync(probe)).toBe(false);
    expect(await lab.readFile('a', probe)).toBe('from-a\n');
    // /etc is writable and private too; /etc/hosts edited on b does not change a's.
    expect((await lab.exec('b', ['sh', '-c', 'echo "127.0.77.9 extra" >> /etc/hosts'])).code).toBe(0);
    expect((await lab.exec('a', ['grep', '-c', 'extra', '/etc/hosts'])).stdout.trim()).toBe('0');
    expect(readFileSync('/etc/hosts', 'utf8')).not.toContain('127.0.77.9');
    // /run is the host's own; the rest of the machine is read-only from a host.
    await lab.writeFile('a', '/run/only-on-a', 'x');
    expect((await lab.exec('a', ['test', '-e', '/run/only-on-a'])).code).toBe(0);
    expect((await lab.exec('b', ['test', '-e', '/run/only-on-a'])).code).toBe(1);
    const ro = await lab.exec('a', ['touch', `/usr/hglab-probe-${process.pid}`]);
    expect(ro.code).not.toBe(0);
    expect(ro.stderr).toMatch(/Read-only file system/);

    // A bundle's hosts/<name>/ tree copied onto a host's "/": on c only.
    const tree = await fs.mkdtemp(path.join(os.tmpdir(), 'hglab-tree-'));
    try {
      await fs.mkdir(path.join(tree, 'etc/hglab-demo'), { recursive: true });
      await fs.mkdir(path.join(tree, 'usr/local/sbin'), { recursive: true });
      await fs.writeFile(path.join(tree, 'etc/hglab-demo/demo.conf'), 'key = value\n');
      await fs.writeFile(path.join(tree, 'usr/local/sbin/hglab-demo'), '#!/bin/sh\necho "demo on $(hostname)"\n', { mode: 0o755 });
      expect(await lab.install('c', tree)).toEqual(['/etc/hglab-demo/demo.conf', '/usr/local/sbin/hglab-demo']);
    } finally {
      await fs.rm(tree, { recursive: true, force: true });
    }
    expect((await lab.exec('c', ['hglab-demo'])).stdout).toBe('demo on c\n');
    expect((await lab.exec('c', ['cat', '/etc/hglab-demo/demo.conf'])).stdout).toBe('key = value\n');
    expect((await lab.exec('b', ['test', '-e', '/etc/hglab-demo/demo.conf'])).code).toBe(1);
    expect(existsSync('/etc/hglab-demo')).toBe(false);

    // Runs as the given user, with env and cwd.
    const who = await lab.exec('c', ['sh', '-c', 'id -un; pwd; echo "$GREETING"'], { user: USER, cwd: '/tmp', env: { GREETING: 'hello' } });
    expect(who.stdout).toBe(`${USER}\n/tmp\nhello\n`);

    // Loopback-range addresses only: 127.0.0.1/32 on lo, the host's /16 on eth0, no IPv6 but ::1.
    const addrs = (await lab.exec('a', ['ip', '-o', 'addr', 'show'])).stdout;
    const inet = [...addrs.matchAll(/\binet6? (\S+)/g)].map((m) => m[1]);
    expect(inet.sort()).toEqual(['127.0.0.1/32', '127.0.77.1/16', '::1/128']);

    // exec's timeout kills the program's own process group (not nsenter): no process of it is left.
    const t0 = performance.now();
    const slow = await lab.exec('b', ['sh', '-c', 'sleep 30 & sleep 30'], { timeoutMs: 300 });
    expect(slow.signal).toBe('SIGKILL');
    expect(performance.now() - t0).toBeLessThan(3000);
    await waitUntil('b to have only its init left', () => lab.pids('b').length === 1, 3000);
    // stop(): SIGTERM to the program, which ends; its log file holds its output.
    const p = lab.spawn('b', ['sh', '-c', 'trap "echo got TERM; exit 0" TERM; echo started; while :; do sleep 0.05; done'], { name: 'trap' });
    await waitUntil('the trap script to start', () => p.log().split('\n').includes('started'), 5000);
    await p.stop('SIGTERM', 3000);
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.log()).toContain('got TERM');
    expect(p.logFile.startsWith(lab.host('b').dir)).toBe(true);
  });

  it('serves a TCP server on a to b and c by a\'s address', async () => {
    server = startServer(lab);
    timings.push(`first answer from a new server on a, as seen from b: ${f(await reachable(lab, 'b', URL_A, 10_000))}`);
    const r = await lab.http('c', URL_A);
    expect(r).toMatchObject({ ok: true, status: 200, body: 'a' });
    expect(server.log()).toContain('listening');
    expect(lab.pids('a')).toContain(server.mainPid());
    // b's own address is not a's: a request to b's address on that port is refused by b.
    expect((await lab.tcp('c', lab.address('b'), PORT, 1000)).error).toBe('ECONNREFUSED');
  });

  it('powerOff(a): link down and every process of a killed at once; b fails within its timeout', async () => {
    // More processes on a: a forked tree as another user, and a root one.
    const extra = [lab.spawn('a', ['sh', '-c', 'sleep 600 & sleep 600 & wait'], { user: USER }), lab.spawn('a', ['sleep', '600'])];
    await waitUntil('the extra processes to run', () => extra.every((p) => p.mainPid()) && lab.pids('a').length >= 6, 5000);
    const before = lab.pids('a');
    const off = await lab.powerOff('a');
    expect(off.pids.sort()).toEqual(before.sort());
    for (const p of before) expect(pidGone(p), `pid ${p} of a`).toBe(true);
    expect(lab.pids('a')).toEqual([]);
    expect((await server.exited).signal).toBe('SIGKILL');
    for (const p of extra) expect((await p.exited).signal).toBe('SIGKILL');
    timings.push(`powerOff(a): link down after ${f(off.linkDownMs)}, all ${before.length} processes gone after ${f(off.allGoneMs)}`);

    const r = await lab.http('b', URL_A, { timeoutMs: 1000 });
    expect(r.ok).toBe(false);
    expect(r.ms).toBeLessThan(1500);
    // Its disk is still writable from here while it is off (the overlay's upper folder).
    await lab.writeFile('a', '/etc/written-while-off', 'x\n');
    await lab.writeFile('a', '/var/tmp/hglab/written-while-off', 'y\n');
    const t = await lab.tcp('c', lab.address('a'), PORT, 1000);
    expect(t.ok).toBe(false);
    timings.push(`b -> a while a is off: ${r.error} after ${f(r.ms)}; TCP connect from c: ${t.error} after ${f(t.ms)}`);
    expect(() => lab.spawn('a', ['true'])).toThrow(/powered off/);
  });

  it('powerOn(a) + restart: reachable again; a\'s disk kept, its /run emptied', async () => {
    const boot = await lab.powerOn('a');
    server = startServer(lab);
    const back = await reachable(lab, 'b', URL_A, 10_000);
    timings.push(`powerOn(a): ${f(boot)}; restarted server answering b ${f(back)} later`);
    expect(await lab.readFile('a', `/var/lib/hglab-probe-${process.pid}`)).toBe('from-a\n');
    expect((await lab.exec('a', ['test', '-e', '/run/only-on-a'])).code).toBe(1);
    expect((await lab.exec('a', ['cat', '/etc/written-while-off', '/var/tmp/hglab/written-while-off'])).stdout).toBe('x\ny\n');
    // Folders made on its disk while it was off keep the machine's attributes (/var/tmp stays 1777).
    expect((await lab.exec('a', ['stat', '-c', '%a %U', '/etc', '/var/tmp'])).stdout).toBe('755 root\n1777 root\n');
  });

  it('partition(a): unreachable, a\'s processes alive and serving a itself; heal: reachable again', async () => {
    const before = lab.pids('a');
    await lab.partition('a');
    const r = await lab.http('b', URL_A, { timeoutMs: 1000 });
    expect(r.ok).toBe(false);
    for (const p of before) expect(pidGone(p), `pid ${p} of a`).toBe(false);
    expect(server.running).toBe(true);
    // a still answers itself (its own address is local to it).
    expect(await lab.http('a', URL_A, { timeoutMs: 1000 })).toMatchObject({ ok: true, body: 'a' });
    timings.push(`partition(a): b's request failed (${r.error}) after ${f(r.ms)}`);
    await lab.heal('a');
    timings.push(`heal(a): answering b again after ${f(await reachable(lab, 'b', URL_A, 5000))}`);
  });

  it('freeze(a): every process stopped, requests time out; thaw: answers again', async () => {
    const before = lab.pids('a');
    const frozenIn = await lab.freeze('a');
    const states = before.map((p) => processState(p));
    if (lab.faults === 'cgroup') {
      expect(readFileSync(`${lab.host('a').cgroup}/cgroup.events`, 'utf8')).toMatch(/^frozen 1$/m);
    } else {
      expect(states.every((s) => s === 'T' || s === 't')).toBe(true);
    }
    // The kernel still completes the handshake (as on a hung server); nothing answers.
    const t = await lab.tcp('b', lab.address('a'), PORT, 1000);
    expect(t.ok).toBe(true);
    const r = await lab.http('b', URL_A, { timeoutMs: 1000 });
    expect(r).toMatchObject({ ok: false, error: 'timeout' });
    for (const p of before) expect(pidGone(p)).toBe(false);
    const thawedIn = await lab.thaw('a');
    timings.push(`freeze(a): ${f(frozenIn)} (process states ${[...new Set(states)].join('')}); thaw ${f(thawedIn)}; answering b ${f(await reachable(lab, 'b', URL_A, 5000))} after thaw`);
  });

  it('powers off a frozen host too', async () => {
    await lab.freeze('a');
    const off = await lab.powerOff('a');
    for (const p of off.pids) expect(pidGone(p)).toBe(true);
    await lab.powerOn('a');
    expect((await lab.exec('a', ['true'])).code).toBe(0);
  });

  it('close() removes every process, namespace, link, cgroup and folder of the lab', async () => {
    const pids = lab.hostNames.flatMap((h) => lab.pids(h));
    const links = [lab.bridge, ...lab.hostNames.map((h) => lab.host(h).veth)];
    const cgroups = lab.hostNames.map((h) => lab.host(h).cgroup).filter((c): c is string => !!c);
    expect(pids.length).toBeGreaterThan(3);
    await lab.close();
    for (const p of pids) expect(pidGone(p)).toBe(true);
    for (const l of links) expect(existsSync(`/sys/class/net/${l}`), l).toBe(false);
    for (const c of cgroups) expect(existsSync(c)).toBe(false);
    expect(existsSync(lab.dir)).toBe(false);
  });
});

describe.skipIf(req.skip)('live: whole-host lab, signals mode (the fallback without cgroup v2)', { timeout: 60_000 }, () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await createLab({ hosts: HOSTS.slice(0, 2), faults: 'signals' });
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('freeze stops every process of a (state T), thaw resumes them, powerOff kills them all', async () => {
    const server = startServer(lab);
    await reachable(lab, 'b', URL_A, 10_000);
    const tree = lab.spawn('a', ['sh', '-c', 'sleep 600 & sleep 600 & wait'], { user: USER });
    await waitUntil('the tree to run', () => tree.mainPid() && lab.pids('a').length >= 5, 5000);
    const before = lab.pids('a');
    const frozenIn = await lab.freeze('a');
    expect(before.map((p) => processState(p)).every((s) => s === 'T' || s === 't')).toBe(true);
    expect(await lab.http('b', URL_A, { timeoutMs: 800 })).toMatchObject({ ok: false, error: 'timeout' });
    await lab.thaw('a');
    expect(before.map((p) => processState(p)).some((s) => s === 'T')).toBe(false);
    await reachable(lab, 'b', URL_A, 5000);
    const off = await lab.powerOff('a');
    for (const p of before) expect(pidGone(p), `pid ${p}`).toBe(true);
    expect((await server.exited).signal).toBe('SIGKILL');
    timings.push(`signals mode: freeze(a) ${f(frozenIn)}; powerOff(a): all ${off.pids.length} processes gone after ${f(off.allGoneMs)}`);
    expect((await lab.http('b', URL_A, { timeoutMs: 800 })).ok).toBe(false);
    await lab.powerOn('a');
    startServer(lab);
    await reachable(lab, 'b', URL_A, 10_000);
  });
});

/**
 * A run that ends without close(): the 'exit' hook removes everything; a run that is SIGKILLed:
 * its hosts die with it (their init's stdin closes), and the next lab's sweepStale() removes its
 * bridge, cgroups and folder. The lab is bundled (esbuild) into a child Node process for this.
 */
describe.skipIf(req.skip)('live: whole-host lab, a run that does not call close()', { timeout: 60_000 }, () => {
  let work = '';
  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'hglab-child-'));
    await build({ entryPoints: [fileURLToPath(new URL('../lab/lab.ts', import.meta.url))], bundle: true, format: 'esm', platform: 'node', outfile: path.join(work, 'lab.mjs'), logLevel: 'warning' });
    await fs.writeFile(
      path.join(work, 'child.mjs'),
      `import { createLab, waitUntil } from './lab.mjs';
const lab = await createLab({ hosts: [{ name: 'x', address: '127.0.78.1' }, { name: 'y', address: '127.0.78.2' }] });
const p = lab.spawn('x', ['sleep', '600']);
await waitUntil('sleep', () => p.mainPid() && lab.pids('x').length === 2, 5000);
const hosts = ['x', 'y'].map((h) => lab.host(h));
console.log(JSON.stringify({ bridge: lab.bridge, dir: lab.dir, veths: hosts.map((h) => h.veth), cgroups: hosts.map((h) => h.cgroup).filter(Boolean), pids: ['x', 'y'].flatMap((h) => lab.pids(h)), wrapper: p.pid }));
if (process.argv[2] === 'exit') process.exit(0);
setInterval(() => {}, 1000);
`,
    );
  });
  afterAll(async () => {
    await stopEsbuild(); // its service process: reaped here, not orphaned when the worker exits
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  async function runChild(mode: 'exit' | 'kill') {
    const child = spawn(process.execPath, [path.join(work, 'child.mjs'), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const info = await waitUntil('the child lab to start', () => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      return line ? (JSON.parse(line) as { bridge: string; dir: string; veths: string[]; cgroups: string[]; pids: number[]; wrapper: number }) : null;
    }, 20_000, 20).catch(async (e) => {
      child.kill('SIGKILL');
      throw e;
    });
    if (mode === 'kill') child.kill('SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    return info;
  }

  it('exit without close(): the exit hook removes processes, links, cgroups and folders', async () => {
    const info = await runChild('exit');
    expect(info.pids.length).toBeGreaterThanOrEqual(3);
    for (const p of info.pids) expect(processState(p) ?? 'Z').toBe('Z');
    for (const l of [info.bridge, ...info.veths]) expect(existsSync(`/sys/class/net/${l}`), l).toBe(false);
    for (const c of info.cgroups) expect(existsSync(c), c).toBe(false);
    expect(existsSync(info.dir)).toBe(false);
  });

  it('SIGKILLed run: its hosts die with it; sweepStale() removes what is left', async () => {
    const info = await runChild('kill');
    await waitUntil('the killed run\'s host processes to be gone', () => info.pids.every((p) => (processState(p) ?? 'Z') === 'Z'), 10_000);
    await waitUntil('its veths to go with its network namespaces', () => info.veths.every((l) => !existsSync(`/sys/class/net/${l}`)), 10_000);
    await waitUntil('its sleep\'s nsenter to exit', () => (processState(info.wrapper) ?? 'Z') === 'Z', 10_000);
    const removed = sweepStale();
    expect(removed).toContain(`link ${info.bridge}`);
    expect(existsSync(`/sys/class/net/${info.bridge}`)).toBe(false);
    for (const c of info.cgroups) expect(existsSync(c), c).toBe(false);
    expect(existsSync(info.dir)).toBe(false);
  });
});

/**
 * A floating address in the lab: keepalived (VRRP, unicast peers) on two hosts, the holder powered
 * off, the address answers from the other. 127/8 addresses must have scope host (the kernel refuses
 * any other scope with "Invalid scope value"), so the VIP line says `scope host`.
 */
const keepalived = req.skip ? { skip: true } : skipUnlessTool(['keepalived'], 'live whole-host lab: floating address');
describe.skipIf(req.skip || keepalived.skip)('live: whole-host lab, a VRRP floating address moves on power-off', { timeout: 60_000 }, () => {
  const VIP = '127.0.79.100';
  let lab: Lab;
  beforeAll(async () => {
    lab = await createLab({ hosts: [{ name: 'lb1', address: '127.0.79.1' }, { name: 'lb2', address: '127.0.79.2' }, { name: 'client', address: '127.0.79.3' }] });
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('keepalived moves the address to the other host within seconds', async () => {
    const conf = (me: string, peer: string, priority: number) =>
      [
        `global_defs {\n  router_id ${me}\n}`,
        'vrrp_instance VI_1 {',
        '  state BACKUP',
        '  nopreempt',
        '  interface eth0',
        '  virtual_router_id 51',
        `  priority ${priority}`,
        '  advert_int 1',
        `  unicast_src_ip ${lab.address(me)}`,
        `  unicast_peer {\n    ${lab.address(peer)}\n  }`,
        '  authentication {\n    auth_type PASS\n    auth_pass hglab1\n  }',
        `  virtual_ipaddress {\n    ${VIP}/16 dev eth0 scope host\n  }`,
        '}',
        '',
      ].join('\n');
    for (const [me, peer, prio] of [['lb1', 'lb2', 140], ['lb2', 'lb1', 130]] as const) {
      await lab.writeFile(me, '/etc/keepalived/keepalived.conf', conf(me, peer, prio));
      lab.spawn(me, ['keepalived', '--dont-fork', '--log-console', '--log-detail', '-f', '/etc/keepalived/keepalived.conf'], { name: 'keepalived' });
      startServer(lab, me, '0.0.0.0');
    }
    const url = `http://${VIP}:${PORT}/`;
    const holder = await waitUntil('the floating address to answer', async () => {
      const r = await lab.http('client', url, { timeoutMs: 300 });
      return r.ok && r.body;
    }, 20_000, 50);
    const other = holder === 'lb1' ? 'lb2' : 'lb1';
    await lab.powerOff(holder);
    const t0 = performance.now();
    let failed = 0;
    let total = 0;
    let backAt = 0;
    while (performance.now() - t0 < 15_000) {
      const r = await lab.http('client', url, { timeoutMs: 500 });
      total++;
      if (r.ok) {
        expect(r.body).toBe(other);
        backAt = performance.now() - t0;
        break;
      }
      failed++;
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(backAt).toBeGreaterThan(0);
    // Then every request succeeds.
    for (let i = 0; i < 20; i++) expect(await lab.http('client', url, { timeoutMs: 500 })).toMatchObject({ ok: true, body: other });
    timings.push(`VRRP (keepalived, unicast, advert_int 1): power-off of ${holder}, the address answered from ${other} ${f(backAt)} later (${failed} of ${total} requests failed)`);
  });
});
