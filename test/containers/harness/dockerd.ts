/**
 * The container lab's Docker engine. `.ci/run` starts one dockerd for the whole run and exports
 * DOCKER_HOST; when DOCKER_HOST is set it is used as it is. Otherwise startEngine() starts a dockerd
 * of our own:
 *   dockerd --data-root CACHE/docker --exec-root RUN/exec --host unix://RUN/docker.sock
 *           --pidfile RUN/docker.pid --iptables=false --ip6tables=false --bridge=none
 * (RUN = /run/ha-gen-lab-PID: short, because containerd's socket paths must fit in 108 bytes; the data
 * root lives in the image cache folder, so the lab images survive between runs), and stop() leaves
 * the swarm, removes docker_gwbridge and stops that dockerd by its PID (SIGTERM, then SIGKILL).
 * One dockerd per data root: when another run's dockerd holds it, its socket is used instead.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cacheDir } from '../images/build.mjs';
import { REQUIRE_TOOLS, skipUnlessTool } from '../../helpers/tools.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What the container tests need on the machine: skips loudly, or throws under HA_GEN_REQUIRE_TOOLS=1. */
export function engineRequirements(what: string): { skip: boolean; reason?: string } {
  if (process.getuid?.() !== 0) {
    const reason = `${what}: SKIPPED because dockerd needs root`;
    if (REQUIRE_TOOLS) throw new Error(`${reason} (HA_GEN_REQUIRE_TOOLS=1)`);
    console.warn(`\n*** ${reason} ***\n`);
    return { skip: true, reason };
  }
  const bins = ['docker', 'docker-compose', 'curl'];
  if (!process.env.DOCKER_HOST) bins.push('dockerd', 'debootstrap');
  return skipUnlessTool(bins, what);
}

export interface Engine {
  dockerHost: string;
  /** Whether stop() stops the dockerd (false: CI's, or another run's). */
  owned: boolean;
  pid: number | null;
  runDir: string | null;
  log: string | null;
  stop(): Promise<void>;
}

function docker(dockerHost: string, args: string[], timeoutMs = 30_000) {
  return spawnSync('docker', args, { env: { ...process.env, DOCKER_HOST: dockerHost }, encoding: 'utf8', timeout: timeoutMs });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'dockerd';
  } catch {
    return false;
  }
}

async function waitUp(dockerHost: string, pid: number | null, timeoutMs: number, logFile: string | null): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = docker(dockerHost, ['version', '--format', '{{.Server.Version}}'], 5000);
    if (r.status === 0) return;
    if (pid !== null && !alive(pid)) throw new Error(`dockerd exited while starting:\n${logFile ? readFileSync(logFile, 'utf8').slice(-3000) : ''}`);
    if (Date.now() > end) throw new Error(`dockerd did not answer on ${dockerHost} within ${timeoutMs} ms: ${r.stderr}`);
    await sleep(250);
  }
}

/** Leaves the swarm and removes what swarm init created, so the next run starts clean. */
export function cleanSwarm(dockerHost: string): void {
  const info = docker(dockerHost, ['info', '--format', '{{.Swarm.LocalNodeState}}']);
  if (info.stdout.trim() !== 'inactive' && info.status === 0) docker(dockerHost, ['swarm', 'leave', '--force'], 60_000);
  if (docker(dockerHost, ['network', 'inspect', 'docker_gwbridge']).status === 0) docker(dockerHost, ['network', 'rm', 'docker_gwbridge']);
}

export async function startEngine(): Promise<Engine> {
  if (process.env.DOCKER_HOST) {
    const dockerHost = process.env.DOCKER_HOST;
    await waitUp(dockerHost, null, 10_000, null);
    return { dockerHost, owned: false, pid: null, runDir: null, log: null, stop: async () => undefined };
  }
  const cache = cacheDir();
  mkdirSync(cache, { recursive: true });
  const ownerFile = path.join(cache, 'dockerd.owner.json');
  if (existsSync(ownerFile)) {
    try {
      const o = JSON.parse(readFileSync(ownerFile, 'utf8')) as { pid: number; dockerHost: string };
      if (alive(o.pid)) {
        console.warn(`\n*** container lab: using the dockerd (PID ${o.pid}) another run started on ${o.dockerHost}; it is not stopped here ***\n`);
        await waitUp(o.dockerHost, o.pid, 30_000, null);
        return { dockerHost: o.dockerHost, owned: false, pid: null, runDir: null, log: null, stop: async () => undefined };
      }
    } catch {
      /* stale or broken: ours now */
    }
  }
  const runDir = `/run/ha-gen-lab-${process.pid}`;
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const sock = path.join(runDir, 'docker.sock');
  const dockerHost = `unix://${sock}`;
  const log = path.join(runDir, 'dockerd.log');
  const fd = openSync(log, 'a');
  const child = spawn(
    'dockerd',
    ['--data-root', path.join(cache, 'docker'), '--exec-root', path.join(runDir, 'exec'), '--host', dockerHost, '--pidfile', path.join(runDir, 'docker.pid'), '--iptables=false', '--ip6tables=false', '--bridge=none'],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  const pid = child.pid!;
  child.unref();
  writeFileSync(ownerFile, JSON.stringify({ pid, dockerHost }));
  // A crashed test run must not leave our dockerd behind.
  const onExit = () => {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  };
  process.once('exit', onExit);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    if (alive(pid)) cleanSwarm(dockerHost);
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const end = Date.now() + 20_000;
    while (alive(pid) && Date.now() < end) await sleep(200);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    while (alive(pid)) await sleep(100);
    try {
      if ((JSON.parse(readFileSync(ownerFile, 'utf8')) as { pid: number }).pid === pid) rmSync(ownerFile, { force: true });
    } catch {
      /* gone */
    }
    spawnSync('umount', ['-R', runDir], { stdio: 'ignore' });
    rmSync(runDir, { recursive: true, force: true });
  };
  try {
    await waitUp(dockerHost, pid, 60_000, log);
  } catch (e) {
    await stop();
    throw e;
  }
  return { dockerHost, owned: true, pid, runDir, log, stop };
}
