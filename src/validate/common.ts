/** What every checker shares: the run's environment, outcomes, tool slots and lookups. */
import { existsSync, readdirSync } from 'node:fs';
import type { Check, CheckTool } from '../render/bundle.js';
import type { Manifest } from '../write/manifest.js';
import { which, type Sandbox } from './sandbox.js';
import type { Slots } from './slots.js';

export interface CheckEnv {
  bundleDir: string;
  tmp: string;
  sandbox: Sandbox;
  manifest: Manifest;
  /** Resources shared by checks of one run (certificates, a throwaway PostgreSQL), made once. */
  shared: Map<string, Promise<unknown>>;
  /** Bounds the programs running at once (absent: no bound). See Checker.lane. */
  slots?: Slots;
}

export interface CheckOutcome {
  ok: boolean;
  message: string;
  /** The check could not run for a reason outside the file (reported as skipped, or failed when tools are required). */
  skipped?: boolean;
}

export interface Checker {
  needs: string[];
  install: string;
  /**
   * How the runner bounds it: 'cpu' (default) holds a slot for the whole check; 'self' holds none,
   * because the check only waits for shared runs that take a slot themselves (see inSlot) or
   * mostly sleep. Shared runs that 'cpu' checks await must not take a slot (they could wait for
   * their own waiter's slot).
   */
  lane?: 'cpu' | 'self';
  run(env: CheckEnv, file: string, check: Check): Promise<CheckOutcome>;
}

/** Which programs start first (lower first): the long ones, so the run ends sooner. */
export const RANK: Partial<Record<CheckTool, number>> = { sql: 0, 'pg-hba': 0, shell: 1, k6: 1, patroni: 2, haproxy: 3, etcd: 3, yaml: 4, compose: 4, stack: 4, pgbackrest: 5, systemd: 6 };
export const rankOf = (tool: CheckTool): number => RANK[tool] ?? 9;

/** Runs fn in a CPU slot (for the shared runs of 'self' checks). */
export function inSlot<T>(env: CheckEnv, tool: CheckTool, fn: () => Promise<T>): Promise<T> {
  return env.slots ? env.slots.run(rankOf(tool), fn) : fn();
}

export function once<T>(env: CheckEnv, key: string, make: () => Promise<T>): Promise<T> {
  let p = env.shared.get(key) as Promise<T> | undefined;
  if (!p) {
    p = make();
    env.shared.set(key, p);
  }
  return p;
}

/** PostgreSQL's server binaries live in a versioned folder on Debian; the newest installed is used. */
export function pgBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => /^[0-9]+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(`${base}/${v}/bin/postgres`)) return `${base}/${v}/bin`;
  return null;
}

export async function locate(env: CheckEnv, bin: string): Promise<string | null> {
  return once(env, `which:${bin}`, async () => {
    if (['postgres', 'initdb', 'pg_ctl'].includes(bin)) {
      const dir = pgBinDir();
      return dir && existsSync(`${dir}/${bin}`) ? `${dir}/${bin}` : null;
    }
    return which(bin);
  });
}

