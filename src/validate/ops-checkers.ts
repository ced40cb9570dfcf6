/**
 * Checkers for the operating files: k6 scripts (no k6 binary here: esbuild for syntax and imports,
 * tsc --checkJs with @types/k6 for the API) and pgbackrest.conf (pgBackRest parses the file for
 * real and rejects unknown options and bad values).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Check } from '../render/bundle.js';
import { exec } from './exec.js';
import type { Checker, CheckEnv, CheckOutcome } from './common.js';
import { inSlot, once } from './common.js';
import { runEach } from './sandbox.js';

/** A package's folder, from ha-gen's own installation or the bundle's folder. */
function packageDir(env: CheckEnv, name: string): string | null {
  const bases = [import.meta.url, path.join(env.bundleDir, 'package.json'), path.join(process.cwd(), 'package.json')];
  for (const base of bases) {
    try {
      return path.dirname(createRequire(base).resolve(`${name}/package.json`));
    } catch {
      /* next */
    }
  }
  return null;
}

const TSC_NODE_FLAGS = ['--no-opt', '--single-threaded-gc'];

export const k6Checker: Checker = {
  needs: [],
  install: 'npm install --save-dev esbuild typescript @types/k6',
  async run(env: CheckEnv, file: string) {
    const esbuildDir = packageDir(env, 'esbuild');
    const tsDir = packageDir(env, 'typescript');
    const typesDir = packageDir(env, '@types/k6');
    const missing = [!esbuildDir && 'esbuild', !tsDir && 'typescript', !typesDir && '@types/k6'].filter(Boolean);
    if (missing.length) return { ok: false, skipped: true, message: `${missing.join(', ')} not installed; npm install --save-dev esbuild typescript @types/k6` };
    const abs = path.join(env.bundleDir, file);
    // 1. syntax and imports: every import must be a k6 module or a file that exists.
    const esbuildBin = path.join(esbuildDir!, 'bin', 'esbuild');
    const eb = await exec(esbuildBin, [abs, '--bundle', '--format=esm', '--external:k6', '--external:k6/*', '--log-level=warning', `--outfile=${path.join(env.tmp, 'k6-out', file)}`], { timeout: 20000 });
    if (eb.exitCode !== 0 || String(eb.all ?? '').trim()) return { ok: false, message: `esbuild: ${String(eb.all ?? '').replaceAll(`${env.bundleDir}/`, '') || `exit code ${eb.exitCode}`}` };
    // 2. the k6 API: tsc checks the script against @types/k6.
    const dir = path.join(env.tmp, 'k6-tsc', file.replaceAll('/', '_'));
    await fs.mkdir(dir, { recursive: true });
    const copy = path.join(dir, path.basename(file));
    await fs.copyFile(abs, copy);
    const root = typesDir!;
    await fs.writeFile(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          allowJs: true,
          checkJs: true,
          noEmit: true,
          strict: true,
          target: 'ES2020',
          module: 'ES2020',
          moduleResolution: 'node10',
          lib: ['ES2020'],
          types: [],
          baseUrl: '.',
          paths: { k6: [path.join(root, 'index.d.ts')], 'k6/*': [path.join(root, '*')] },
          skipLibCheck: true,
        },
        files: [path.join(root, 'global.d.ts'), copy],
      }),
    );
    const tscArgs = [path.join(tsDir!, 'bin', 'tsc'), '-p', dir, '--pretty', 'false'];
    // One short compile: V8's optimising compiler and parallel GC threads cost ~40% more CPU than
    // they save here (engine flags only; tsc does the same work). A node without them runs it plain.
    let tsc = await exec(process.execPath, [...TSC_NODE_FLAGS, ...tscArgs], { timeout: 60000 });
    if (tsc.exitCode !== 0 && /bad option/.test(tsc.all)) tsc = await exec(process.execPath, tscArgs, { timeout: 60000 });
    const out = String(tsc.all ?? '').replaceAll(copy, file).trim();
    if (tsc.exitCode !== 0) return { ok: false, message: `tsc --checkJs (@types/k6): ${out || `exit code ${tsc.exitCode}`}` };
    return { ok: true, message: 'esbuild: imports resolve; tsc --checkJs with @types/k6: no errors' };
  },
};

/** pgBackRest exit codes 31-37 are option errors (invalid, bad value, range, pair, duplicate, negate, required). */
const OPTION_ERROR = /^(3[1-7])$/;

export const pgbackrestChecker: Checker = {
  needs: ['pgbackrest'],
  install: 'apt-get install pgbackrest',
  lane: 'self',
  async run(env: CheckEnv, file: string, check: Check) {
    const stanza = check.tool === 'pgbackrest' ? check.stanza : 'main';
    // Identical files (one per database host) with the same stanza are checked once: the verdict
    // depends only on the bytes and the stanza (the paths it names are replaced by empty folders).
    const abs = path.join(env.bundleDir, file);
    const key = `pgbackrest:${stanza}:${createHash('sha256').update(await fs.readFile(abs)).digest('hex')}`;
    const first = await once(env, key, async () => ({ file, outcome: await inSlot(env, 'pgbackrest', () => pgbackrestRun(env, file, stanza)) }));
    if (first.file === file) return first.outcome;
    const [from, to] = [first.file, file].map((f) => [path.join(env.bundleDir, f), path.join(env.tmp, 'pgbackrest', f.replaceAll('/', '_'))] as const);
    return { ...first.outcome, message: first.outcome.message.replaceAll(from![0], to![0]).replaceAll(from![1], to![1]) };
  },
};

async function pgbackrestRun(env: CheckEnv, file: string, stanza: string): Promise<CheckOutcome> {
  const dir = path.join(env.tmp, 'pgbackrest', file.replaceAll('/', '_'));
  const repo = path.join(dir, 'repo');
  const empty = path.join(dir, 'pgdata');
  await fs.mkdir(repo, { recursive: true });
  await fs.mkdir(empty, { recursive: true });
  const text = await fs.readFile(path.join(env.bundleDir, file), 'utf8');
  const s3 = /^repo1-type=s3$/m.test(text);
  // The repository and database paths only exist on the target: point them at empty folders here.
  const base = [`--config=${path.join(env.bundleDir, file)}`, `--stanza=${stanza}`, `--log-path=${dir}`, '--log-level-file=off', '--log-level-console=warn', ...(s3 ? [] : [`--repo1-path=${repo}`])];
  const lock = `--lock-path=${dir}`;
  const pgPath = `--pg1-path=${empty}`;
  const pgSocket = `--pg1-socket-path=${dir}`;
  // Each command validates the options it reads; together they read every option the file sets.
  // Command-line overrides only where the command accepts them (else pgBackRest refuses them).
  const runs: string[][] = [
    [...base, lock, pgPath, pgSocket, 'backup'],
    [...base, lock, 'expire'],
    [...base, lock, pgPath, 'archive-get', '000000010000000000000001', path.join(dir, 'wal')],
    [...base, pgPath, pgSocket, 'check'],
  ];
  const problems: string[] = [];
  // one shell runs the four (one program started from here instead of four)
  const rs = await runEach(path.join(dir, 'runs'), runs.map((args) => ({ argv: ['pgbackrest', ...args] })), { env: { PGBACKREST_REPO1_S3_KEY: 'hagencheck', PGBACKREST_REPO1_S3_KEY_SECRET: 'hagencheck' }, timeoutMs: 20000 * runs.length });
  for (const r of rs) {
    const out = r.output;
    const warn = out.split('\n').filter((l) => /WARN: configuration file contains/.test(l));
    if (warn.length) problems.push(...warn);
    if (OPTION_ERROR.test(String(r.exitCode))) problems.push(...out.split('\n').filter((l) => /ERROR/.test(l)));
  }
  const uniq = [...new Set(problems)];
  return uniq.length ? { ok: false, message: uniq.join('\n') } : { ok: true, message: 'pgbackrest: every option is known and valid for backup, expire, archive-get and check' };
}

