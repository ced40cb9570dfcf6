/**
 * Ctrl+C during `ha-gen validate`: exit 130, and nothing it started or made outlives it: the
 * throwaway PostgreSQL (pg_ctl daemonises it, so it is no child of ours) is stopped and its
 * folder and the run's temp folder are removed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanupTempDirs, ensureBuilt, runCli, tempDir } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';

const tools = skipUnlessTool(['postgres', 'initdb', 'pg_ctl', 'psql', 'openssl']);

beforeAll(() => ensureBuilt());
afterAll(() => cleanupTempDirs());

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(tools.skip)('validate interrupted', () => {
  it('SIGINT while the throwaway PostgreSQL runs: exit 130, server stopped, folders removed', async () => {
    const dir = await tempDir('validate-int');
    const tmp = await tempDir('validate-int-tmp');
    expect((await runCli(['init', '--yes'], { cwd: dir })).code).toBe(0);
    const child = spawn(process.execPath, [BIN, 'validate'], { cwd: dir, env: { ...process.env, TMPDIR: tmp, HA_GEN_VALIDATE_CACHE: '0', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // the run's folder, then its cluster's postmaster.pid (on /dev/shm, or inside the run's folder)
    let pidFile: string | undefined;
    let runDir: string | undefined;
    for (let i = 0; i < 1000 && !pidFile && child.exitCode === null; i++) {
      await new Promise((r) => setTimeout(r, 20));
      runDir ??= readdirSync(tmp).find((n) => n.startsWith('ha-gen-validate-'));
      if (!runDir) continue;
      const shm = existsSync('/dev/shm') ? readdirSync('/dev/shm').filter((n) => n.startsWith(`ha-gen-pg-${runDir}-`)).map((n) => path.join('/dev/shm', n, 'data', 'postmaster.pid')) : [];
      pidFile = [...shm, path.join(tmp, runDir, 'pg', 'data', 'postmaster.pid')].find((f) => existsSync(f) && /^\d+\n/.test(readFileSync(f, 'utf8')));
    }
    expect(pidFile, `no throwaway PostgreSQL seen; output:\n${out}`).toBeDefined();
    const pid = Number(readFileSync(pidFile!, 'utf8').split('\n')[0]);
    expect(alive(pid)).toBe(true);
    child.kill('SIGINT');
    expect(await exited, out).toBe(130);
    expect(out).toMatch(/interrupted/);
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(pid), `postmaster ${pid} still running`).toBe(false);
    expect(existsSync(path.dirname(path.dirname(pidFile!)))).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
  }, 60_000);
});
