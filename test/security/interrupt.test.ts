/**
 * Interruption: SIGINT, SIGTERM or SIGKILL at a random moment of `generate` leaves the output folder
 * exactly as it was or exactly the new bundle (SIGKILL between the two renames of the swap: the old
 * folder sits beside it and the next run puts it back). Stale staging folders are cleaned up.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanupTempDirs, hashTree, runCli, tempDir, type TreeEntry } from '../helpers/cli.js';
import { NUM_RUNS, SEED } from '../property/support.js';

/** Each run copies a 250-file bundle and runs generate twice: kept small; FC_NUM_RUNS raises it. */
const RUNS = process.env.FC_NUM_RUNS ? Math.max(3, NUM_RUNS) : 6;

function bigSpec(appPort: number) {
  const hosts = [
    { name: 'lb1', address: '10.0.1.1', roles: ['lb'] },
    { name: 'lb2', address: '10.0.1.2', roles: ['lb'] },
    ...Array.from({ length: 60 }, (_, i) => ({ name: `app${i + 1}`, address: `10.0.2.${i + 1}`, roles: ['app'] })),
    { name: 'db1', address: '10.0.3.1', roles: ['db', 'etcd'] },
    { name: 'db2', address: '10.0.3.2', roles: ['db', 'etcd'] },
    { name: 'db3', address: '10.0.3.3', roles: ['db', 'etcd'] },
    { name: 'nas1', address: '10.0.4.1', roles: ['storage'] },
  ];
  return { version: 1, name: 'big', tier: 'multi-server', platform: 'hosts', database: { ha: 'patroni' }, storage: { kind: 'nfs' }, loadBalancer: { kind: 'haproxy' }, app: { port: appPort }, hosts };
}

type Tree = Record<string, TreeEntry>;
const same = (a: Tree, b: Tree) => JSON.stringify(a) === JSON.stringify(b);

/** Starts the built CLI and sends sig after delayMs; resolves with how it ended. */
function runAndKill(args: string[], cwd: string, sig: NodeJS.Signals, delayMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const t = setTimeout(() => child.kill(sig), delayMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stderr });
    });
  });
}

let root: string;
let oldTree: Tree;
let newTree: Tree;
let fullMs = 0;
let template: string;

/**
 * Whether t is the new bundle. dist/cli.js is shared with other test runs that may rebuild it
 * while this file runs, so on a mismatch "new" is recomputed once with the current build.
 */
async function isNew(t: Tree): Promise<boolean> {
  if (same(t, newTree)) return true;
  const fresh = await fs.mkdtemp(path.join(root, 'fresh-'));
  await copyDir(template, fresh);
  const r = await runCli(['generate'], { cwd: fresh });
  if (r.code !== 0) throw new Error(r.output);
  newTree = await hashTree(path.join(fresh, 'ha-bundle'));
  await fs.rm(fresh, { recursive: true, force: true });
  return same(t, newTree);
}

async function copyDir(from: string, to: string) {
  await fs.cp(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
}

describe('interrupted generate', () => {
  beforeAll(async () => {
    root = await tempDir('i7-interrupt');
    template = path.join(root, 'template');
    await fs.mkdir(template);
    // The "before" state: a bundle of another spec (app.port 8210), plus a user file and .env.
    await fs.writeFile(path.join(template, 'ha-gen.yaml'), stringify(bigSpec(8210)));
    const r1 = await runCli(['generate'], { cwd: template });
    expect(r1.code, r1.output).toBe(0);
    await fs.writeFile(path.join(template, 'ha-bundle', 'NOTES.md'), 'my notes\n');
    await fs.writeFile(path.join(template, 'ha-gen.yaml'), stringify(bigSpec(8300)));
    oldTree = await hashTree(path.join(template, 'ha-bundle'));
    // The "after" state: the same run to completion on a copy.
    const full = path.join(root, 'full');
    await copyDir(template, full);
    const t0 = performance.now();
    const r2 = await runCli(['generate'], { cwd: full });
    fullMs = performance.now() - t0;
    expect(r2.code, r2.output).toBe(0);
    newTree = await hashTree(path.join(full, 'ha-bundle'));
    expect(same(oldTree, newTree)).toBe(false);
    expect(Object.keys(newTree).length).toBeGreaterThan(100);
  }, 120_000);

  afterAll(async () => {
    await cleanupTempDirs();
  });

  it(`a signal at a random moment: the folder is old or new, never mixed (${RUNS} runs)`, async () => {
    const seen: Record<string, number> = {};
    const SIGS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];
    // Stratified random delays over the whole run (startup to a little past the end), each signal in turn.
    const jitter = fc.sample(fc.integer({ min: 0, max: 999 }), { numRuns: RUNS, seed: SEED ?? Date.now() });
    for (let i = 0; i < RUNS; i++) {
      const sig = SIGS[i % SIGS.length]!;
      const delay = Math.round(((i + jitter[i]! / 1000) / RUNS) * 1.4 * fullMs);
      const dir = await fs.mkdtemp(path.join(root, 'run-'));
      try {
        await copyDir(template, dir);
        const out = path.join(dir, 'ha-bundle');
        const r = await runAndKill(['generate'], dir, sig, delay);
        const names = await fs.readdir(dir);
        const outNow = await fs.lstat(out).then(() => true, () => false);
        let state: string;
        if (outNow) {
          const t = await hashTree(out);
          state = same(t, oldTree) ? 'old' : (await isNew(t)) ? 'new' : 'MIXED';
          if (state === 'MIXED') {
            const diff = (a: Tree, b: Tree) => [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
            throw new Error(`${sig} after ${delay} ms (exit ${r.code ?? r.signal}): the folder is neither the old nor the new bundle; differs from old in ${diff(t, oldTree).slice(0, 5).join(', ')}; from new in ${diff(t, newTree).slice(0, 5).join(', ')}`);
          }
        } else state = 'missing';
        const key = `${sig} exit=${r.code ?? r.signal} -> ${state}`;
        seen[key] = (seen[key] ?? 0) + 1;
        if (sig !== 'SIGKILL' && r.signal) {
          // Only before node has run ha-gen's first line (startup, handler not installed yet).
          expect(state, key).toBe('old');
        } else if (sig !== 'SIGKILL') {
          // Handled signals: never a missing folder; exit 130 ("nothing was written") exactly when
          // the folder is the old one; the staging folder is removed.
          expect(state, key).not.toBe('missing');
          if (r.code === 130) {
            expect(state, key).toBe('old');
            expect(r.stderr).toMatch(/interrupted; nothing was written/);
          } else {
            expect(r.code, `${key}\n${r.stderr}`).toBe(0);
            expect(state, key).toBe('new');
          }
          expect(names.filter((n) => n.includes('.ha-gen-staging-')), key).toEqual([]);
        }
        if (state === 'missing') {
          // SIGKILL between the two renames: the old folder is beside it, complete.
          const old = names.find((n) => n.startsWith('.ha-bundle.ha-gen-old-'));
          expect(old, `${key}: no old folder to recover from (${names.join(', ')})`).toBeDefined();
          expect(same(await hashTree(path.join(dir, old!)), oldTree), key).toBe(true);
        }
        // The next run recovers, removes leftovers, and produces exactly the new bundle.
        const again = await runCli(['generate'], { cwd: dir });
        expect(again.code, again.output).toBe(0);
        expect(await isNew(await hashTree(out)), `${key}: the next run did not produce the new bundle`).toBe(true);
        expect((await fs.readdir(dir)).filter((n) => n.startsWith('.ha-bundle.ha-gen-')), key).toEqual([]);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    }
    console.log(`interrupt property (${RUNS} runs, full generate ${Math.round(fullMs)} ms):`, seen);
  }, 900_000);

  it('a stale staging folder and a stale old folder from killed runs are removed by the next run', async () => {
    const dir = await fs.mkdtemp(path.join(root, 'stale-'));
    await copyDir(template, dir);
    await fs.mkdir(path.join(dir, '.ha-bundle.ha-gen-staging-99999-abc', 'hosts'), { recursive: true });
    await fs.writeFile(path.join(dir, '.ha-bundle.ha-gen-staging-99999-abc', 'hosts', 'junk'), 'half written');
    await fs.mkdir(path.join(dir, '.ha-bundle.ha-gen-old-99998-abc'));
    await fs.writeFile(path.join(dir, '.ha-bundle.ha-gen-old-99998-abc', 'x'), 'old');
    const r = await runCli(['generate'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    expect((await fs.readdir(dir)).filter((n) => n.startsWith('.ha-bundle.ha-gen-'))).toEqual([]);
    expect(await isNew(await hashTree(path.join(dir, 'ha-bundle')))).toBe(true);
  });

  it('a folder left mid-swap (output missing, old copy beside it) is put back, then updated', async () => {
    const dir = await fs.mkdtemp(path.join(root, 'midswap-'));
    await copyDir(template, dir);
    await fs.rename(path.join(dir, 'ha-bundle'), path.join(dir, '.ha-bundle.ha-gen-old-4242-xyz'));
    await fs.mkdir(path.join(dir, '.ha-bundle.ha-gen-staging-4242-xyz'));
    const r = await runCli(['generate'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    const t = await hashTree(path.join(dir, 'ha-bundle'));
    expect(await isNew(t)).toBe(true);
    expect(t['NOTES.md']).toBeDefined(); // the user's file came back with the old folder
  });
});
