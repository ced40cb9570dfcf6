/**
 * systemd units: `systemd-analyze verify`, many units per run (one run per unit cost ~35 ms of CPU
 * each, mostly start-up). A run's messages name the unit (`name.service: ...`, `Unit name ...`) or
 * its path (`/path/name.service:12: ...`), so each line is attributed to its unit. What could make a
 * unit's verdict in a batch differ from its verdict alone is kept out of batches: two units of one
 * name, and a unit that names another (verify finds the other in the batch's folders, where alone it
 * would be "not found"). A unit with a problem in a batch, or any line that names no unit of it, is
 * verified alone again, so failures read exactly as they do alone.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { CheckEnv, Checker, CheckOutcome } from './common.js';
import { inSlot, once, pgBinDir } from './common.js';
import { exec } from './exec.js';

interface Unit {
  /** The first bundle file with these bytes and this name (identical units are verified once). */
  file: string;
  name: string;
  text: string;
  /** Where the copy that verify reads lives. */
  copy: string;
}

interface Plan {
  /** dedup key (name + bytes) of each bundle file */
  keyOf: Map<string, string>;
  batchOf: Map<string, number>;
  units: Map<string, Unit>;
  batches: Unit[][];
}

/** Absent programs are the target host's business. */
const ABSENT = /is not executable: No such file or directory/;

const stem = (name: string) => name.replace(/@?\.[a-z]+$/, '');
/** foo@ for a template (foo@.service) or an instance (foo@x.service), else null. */
const templateOf = (name: string) => (name.includes('@') ? name.slice(0, name.indexOf('@') + 1) : null);
/** What naming a unit looks like in another unit: a template foo@.service is named as foo@anything. */
const nameMark = (name: string) => (name.includes('@.') ? templateOf(name)! : name);

/** Whether a and b may be verified in one run without changing either verdict. */
function compatible(a: Unit, b: Unit): boolean {
  if (a.name === b.name) return false;
  // foo.timer (or .socket, .path) triggers foo.service without naming it
  if (stem(a.name) === stem(b.name)) return false;
  // a template and an instance of it: verify would take one for the other
  if (templateOf(a.name) !== null && templateOf(a.name) === templateOf(b.name)) return false;
  return !a.text.includes(nameMark(b.name)) && !b.text.includes(nameMark(a.name));
}

function plan(env: CheckEnv): Promise<Plan> {
  return once(env, 'systemd-plan', async () => {
    const files = Object.entries(env.manifest.files).filter(([, e]) => e.checks.some((c) => c.tool === 'systemd')).map(([f]) => f);
    // The bundle's PostgreSQL major may not be the one installed here: point at the installed one.
    const pg = pgBinDir();
    const keyOf = new Map<string, string>();
    const units = new Map<string, Unit>();
    for (const file of files) {
      let text: string;
      try {
        text = await fs.readFile(path.join(env.bundleDir, file), 'utf8');
      } catch {
        continue; // verified alone, where the error is reported
      }
      const name = path.basename(file);
      const key = `${name}:${createHash('sha256').update(text).digest('hex')}`;
      keyOf.set(file, key);
      if (!units.has(key)) units.set(key, { file, name, text: pg ? text.replace(/\/usr\/lib\/postgresql\/[0-9]+\/bin/g, pg) : text, copy: path.join(env.tmp, 'units', file.replaceAll('/', '_'), name) });
    }
    // First fit, names with the most variants first (they decide how many runs there are).
    const count = new Map<string, number>();
    for (const u of units.values()) count.set(u.name, (count.get(u.name) ?? 0) + 1);
    const order = [...units.entries()].sort(([, a], [, b]) => count.get(b.name)! - count.get(a.name)! || (a.file < b.file ? -1 : 1));
    const batches: Unit[][] = [];
    const batchOf = new Map<string, number>();
    for (const [key, u] of order) {
      let i = batches.findIndex((b) => b.every((o) => compatible(o, u)));
      if (i < 0) i = batches.push([]) - 1;
      batches[i]!.push(u);
      batchOf.set(key, i);
    }
    return { keyOf, batchOf, units, batches };
  });
}

async function writeCopy(u: Unit): Promise<void> {
  await fs.mkdir(path.dirname(u.copy), { recursive: true });
  await fs.writeFile(u.copy, u.text);
}

async function verify(copies: string[]): Promise<{ exitCode: number; lines: string[]; timedOut: boolean }> {
  const r = await exec('systemd-analyze', ['verify', ...copies], { timeout: 20000 + 2000 * copies.length, env: { SYSTEMD_LOG_COLOR: '0' } });
  return { exitCode: r.exitCode ?? 1, lines: String(r.all ?? '').split('\n').filter((l) => l.trim()), timedOut: !!r.timedOut };
}

/** One unit alone: the verdict every batch result must agree with. */
async function verifyAlone(u: Unit): Promise<CheckOutcome> {
  await writeCopy(u);
  const r = await verify([u.copy]);
  if (r.timedOut) return { ok: false, message: 'timed out' };
  const absent = r.lines.filter((l) => ABSENT.test(l));
  const problems = r.lines.filter((l) => !ABSENT.test(l));
  if (r.exitCode !== 0 && !problems.length && absent.length) return { ok: true, message: absentMessage(absent) };
  return problems.length || r.exitCode !== 0 ? { ok: false, message: problems.join('\n').replaceAll(u.copy, u.file) || `exit code ${r.exitCode}` } : { ok: true, message: 'systemd-analyze verify: valid' };
}

const absentMessage = (absent: string[]) => `systemd-analyze verify: valid (not installed here: ${absent.map((l) => l.replace(/.*Command (\S+).*/, '$1')).join(', ')})`;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The start of the lines about a unit: its path, or its name (`name: ...`, `Unit name ...`);
 * verify checks a template foo@.service as an instance of it (foo@i.service).
 */
function linesOf(u: Unit): RegExp {
  const name = u.name.includes('@.') ? `${escapeRe(templateOf(u.name)!)}[^\\s:/]*${escapeRe(u.name.slice(u.name.lastIndexOf('.')))}` : escapeRe(u.name);
  return new RegExp(`^(${escapeRe(u.copy)}:|${name}:|Unit ${name} )`);
}

/** Verdicts of a batch (dedup key -> outcome). */
async function runBatch(env: CheckEnv, batch: Unit[], keys: Map<Unit, string>): Promise<Map<string, CheckOutcome>> {
  const out = new Map<string, CheckOutcome>();
  const again = new Set<Unit>();
  if (batch.length === 1) {
    out.set(keys.get(batch[0]!)!, await inSlot(env, 'systemd', () => verifyAlone(batch[0]!)));
    return out;
  }
  const r = await inSlot(env, 'systemd', async () => {
    await Promise.all(batch.map(writeCopy));
    return verify(batch.map((u) => u.copy));
  });
  const absent = new Map<Unit, string[]>(batch.map((u) => [u, []]));
  const about = batch.map((u) => [u, linesOf(u)] as const);
  let unattributed = false;
  for (const l of r.lines) {
    const u = about.find(([, re]) => re.test(l))?.[0];
    if (!u) unattributed = true;
    else if (ABSENT.test(l)) absent.get(u)!.push(l);
    else again.add(u);
  }
  // A timeout, a line we cannot place, or a failure without any line: every unit alone.
  const anyLine = r.lines.length > 0;
  if (r.timedOut || unattributed || (r.exitCode !== 0 && !anyLine)) for (const u of batch) again.add(u);
  for (const u of batch) {
    if (again.has(u)) continue;
    const a = absent.get(u)!;
    // Alone, a unit with absent programs exits non-zero and one without exits 0 (see verifyAlone).
    out.set(keys.get(u)!, a.length && r.exitCode !== 0 ? { ok: true, message: absentMessage(a) } : { ok: true, message: 'systemd-analyze verify: valid' });
  }
  await Promise.all([...again].map(async (u) => out.set(keys.get(u)!, await inSlot(env, 'systemd', () => verifyAlone(u)))));
  return out;
}

/** systemd-analyze security's "UNSAFE" starts here. */
const UNSAFE = 9;

/** Exposure ratings of the service units of a batch (their copies are written by verify), by copy path. */
async function security(batch: Unit[]): Promise<Map<string, { score: number; level: string }>> {
  const units = batch.filter((u) => u.name.endsWith('.service'));
  const out = new Map<string, { score: number; level: string }>();
  if (!units.length) return out;
  await Promise.all(units.map(writeCopy));
  const r = await exec('systemd-analyze', ['security', '--offline=true', '--no-pager', ...units.map((u) => u.copy)], { timeout: 20000 + 1000 * units.length, env: { SYSTEMD_LOG_COLOR: '0' } });
  for (const m of String(r.all ?? '').matchAll(/Overall exposure level for (\S+): ([0-9.]+) ([A-Z]+)/g)) {
    // a template foo@.service is rated as an instance of it (foo@i.service)
    const u = units.find((x) => x.name === m[1] || (x.name.includes('@.') && m[1]!.startsWith(templateOf(x.name)!) && m[1]!.endsWith('.service')));
    if (u) out.set(u.copy, { score: Number(m[2]), level: m[3]! });
  }
  return out;
}

export const systemdChecker: Checker = {
  needs: ['systemd-analyze'],
  install: 'apt-get install systemd',
  lane: 'self',
  async run(env, file) {
    const p = await plan(env);
    const key = p.keyOf.get(file);
    if (!key) {
      await fs.readFile(path.join(env.bundleDir, file)); // throws the reason
      return { ok: false, message: 'not planned' };
    }
    const i = p.batchOf.get(key)!;
    const batch = p.batches[i]!;
    const keys = new Map([...p.units.entries()].map(([k, u]) => [u, k]));
    const res = await once(env, `systemd-batch:${i}`, () => runBatch(env, batch, keys));
    const first = p.units.get(key)!;
    const o = res.get(key)!;
    if (o.ok && first.name.endsWith('.service')) {
      // The sandbox's rating (issue: no generated unit may be UNSAFE); one run per batch of distinct names.
      const rating = (await once(env, `systemd-security:${i}`, () => inSlot(env, 'systemd', () => security(batch)))).get(first.copy);
      if (!rating) return { ok: false, message: 'systemd-analyze security gave no rating' };
      if (rating.score >= UNSAFE) return { ok: false, message: `systemd-analyze security: exposure ${rating.score} ${rating.level} (at most ${UNSAFE - 0.1} allowed): add the sandboxing this service tolerates` };
      return { ok: true, message: `${o.message.replaceAll(first.file, file)}; security exposure ${rating.score} ${rating.level}` };
    }
    return { ...o, message: o.message.replaceAll(first.file, file) };
  },
};
