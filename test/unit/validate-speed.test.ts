/**
 * The fast paths of `ha-gen validate` give the verdicts the slow ones gave: systemd units verified
 * many per run (a broken unit in a batch fails alone, a unit that needs another is not batched
 * with it), identical shell scripts checked once, and the slot queue serves the slow starters first.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listenPattern } from '../../src/validate/checkers-db.js';
import { validateBundle, type CheckResult } from '../../src/validate/index.js';
import { Slots } from '../../src/validate/slots.js';
import { MANIFEST_PATH } from '../../src/write/manifest.js';
import { skipUnlessTool } from '../helpers/tools.js';
import { sandbox } from '../../src/targets/systemd/index.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

/** A bundle folder with these files, each checked by `tool`. */
async function bundle(tool: string, files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ha-gen-validate-speed-'));
  dirs.push(dir);
  for (const [f, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await fs.writeFile(path.join(dir, f), text, { mode: 0o755 });
  }
  const manifest = { generator: 'test', spec: 'ha-gen.yaml', names: [], secrets: [], files: Object.fromEntries(Object.keys(files).map((f) => [f, { sha256: '', mode: '0755', checks: [{ tool }] }])) };
  await fs.mkdir(path.dirname(path.join(dir, MANIFEST_PATH)), { recursive: true });
  await fs.writeFile(path.join(dir, MANIFEST_PATH), JSON.stringify(manifest));
  return dir;
}

const byFile = (rs: CheckResult[]) => Object.fromEntries(rs.map((r) => [r.file, r]));
const prevCache = process.env.HA_GEN_VALIDATE_CACHE;
process.env.HA_GEN_VALIDATE_CACHE = '0';
afterAll(() => {
  if (prevCache === undefined) delete process.env.HA_GEN_VALIDATE_CACHE;
  else process.env.HA_GEN_VALIDATE_CACHE = prevCache;
});

// Every service gets the sandbox ha-gen's units carry: validate rates it with systemd-analyze security too.
const SANDBOX = sandbox({ system: 'strict', caps: [] }).map(([k, v]) => `${k}=${v}\n`).join('');
const unit = (body: string) => `[Unit]\nDescription=test unit\n${body}${body.includes('[Service]') ? SANDBOX : ''}`;
const sd = (host: string, name: string) => `${host}/etc/systemd/system/${name}`;

describe.skipIf(skipUnlessTool(['systemd-analyze'], 'systemd unit batches').skip)('systemd units verified in batches', () => {
  const UNITS: Record<string, string> = {
    [sd('a', 'app.service')]: unit('[Service]\nExecStart=/bin/true\n'),
    [sd('b', 'app.service')]: unit('[Service]\nExecStart=/bin/true\nRestart=always\n'),
    [sd('c', 'app.service')]: unit('[Service]\nExecStart=/bin/true\n'), // same bytes as a's
    [sd('a', 'web.service')]: unit('[Service]\nExecStart=/bin/true\nBogusKey=1\n'),
    [sd('e', 'web.service')]: unit('[Service]\nExecStart=/bin/true\nBogusKey=1\n'), // same broken bytes
    [sd('a', 'job.service')]: unit('[Service]\nType=oneshot\nExecStart=/usr/local/bin/ha-gen-not-here-zz\n'),
    [sd('a', 'job.timer')]: unit('[Timer]\nOnCalendar=daily\n'),
    // alone, needs.service does not find helper-zz.service: a batch holding both must not hide that
    [sd('b', 'needs.service')]: unit('Requires=helper-zz.service\n[Service]\nExecStart=/bin/true\n'),
    [sd('c', 'helper-zz.service')]: unit('[Service]\nExecStart=/bin/true\n'),
    [sd('d', 'worse.service')]: unit('[Service]\nType=bogus\n'),
    // templates: verify checks them as an instance (name@i.service)
    [sd('t', 'green@.service')]: unit('[Service]\nExecStart=/usr/local/bin/ha-gen-green-%i\n'),
    [sd('t', 'broken@.service')]: unit('[Service]\nType=bogus\n'),
  };

  it('fail exactly the units that fail alone, each with its own path', { timeout: 60_000 }, async () => {
    const dir = await bundle('systemd', UNITS);
    const r = byFile(await validateBundle(dir, { requireTools: true }));
    const failed = Object.values(r).filter((x) => x.status !== 'passed').map((x) => x.file).sort();
    expect(failed).toEqual([sd('a', 'web.service'), sd('b', 'needs.service'), sd('d', 'worse.service'), sd('e', 'web.service'), sd('t', 'broken@.service')].sort());
    expect(r[sd('t', 'green@.service')]!.message).toMatch(/^systemd-analyze verify: valid \(not installed here: \/usr\/local\/bin\/ha-gen-green-i\); security exposure [0-9.]+ OK$/);
    expect(r[sd('a', 'web.service')]!.message).toMatch(new RegExp(`^${sd('a', 'web.service')}:[0-9]+: Unknown key 'BogusKey'`));
    expect(r[sd('e', 'web.service')]!.message).toMatch(new RegExp(`^${sd('e', 'web.service')}:[0-9]+: Unknown key 'BogusKey'`));
    expect(r[sd('b', 'needs.service')]!.message).toMatch(/helper-zz\.service not found/);
    expect(r[sd('d', 'worse.service')]!.message).toMatch(/bad unit file setting|Failed to parse service type/);
    expect(r[sd('a', 'job.service')]!.message).toMatch(/^systemd-analyze verify: valid \(not installed here: \/usr\/local\/bin\/ha-gen-not-here-zz\); security exposure/);
    expect(r[sd('a', 'app.service')]!.message).toMatch(/^systemd-analyze verify: valid; security exposure [0-9.]+ OK$/);

    // The oracle: each unit verified alone, as validate did before it batched them.
    for (const [f, text] of Object.entries(UNITS)) {
      const alone = await fs.mkdtemp(path.join(os.tmpdir(), 'ha-gen-unit-alone-'));
      dirs.push(alone);
      await fs.writeFile(path.join(alone, path.basename(f)), text);
      const v = spawnSync('systemd-analyze', ['verify', path.join(alone, path.basename(f))], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_COLOR: '0' } });
      const out = `${v.stdout}${v.stderr}`;
      const ok = v.status === 0;
      const problems = out.split('\n').filter((l) => l.trim() && !/is not executable: No such file or directory/.test(l));
      const aloneOk = problems.length === 0 && (ok || /is not executable/.test(out));
      expect(r[f]!.status, `${f} alone: ${out}`).toBe(aloneOk ? 'passed' : 'failed');
    }
  });
});

describe.skipIf(skipUnlessTool(['shellcheck'], 'shellcheck batches').skip)('shell scripts checked once per content', () => {
  it('identical scripts get the same verdict under their own path; one that sources is checked where it is', { timeout: 60_000 }, async () => {
    const broken = '#!/bin/sh\nif true; then echo "$1"\n';
    const sourcing = '#!/bin/sh\n# shellcheck source=lib.sh\n. "$(dirname "$0")/lib.sh"\necho "$greeting"\n';
    const dir = await bundle('shell', {
      'h1/bin/tool': broken,
      'h2/bin/tool': broken,
      'h1/ok.sh': '#!/bin/sh\necho ok\n',
      'h2/ok.sh': '#!/bin/sh\necho ok\n',
      'p/run.sh': sourcing,
      'p/lib.sh': '#!/bin/sh\n# shellcheck disable=SC2034\ngreeting=hi\n',
      'q/run.sh': sourcing,
      'q/lib.sh': '#!/bin/sh\n# shellcheck disable=SC2034\nnothing=here\n',
    });
    const r = byFile(await validateBundle(dir, { requireTools: true }));
    expect(r['h1/bin/tool']!.status).toBe('failed');
    expect(r['h2/bin/tool']!.status).toBe('failed');
    expect(r['h1/bin/tool']!.message).toMatch(/^h1\/bin\/tool:2:/);
    expect(r['h2/bin/tool']!.message).toMatch(/^h2\/bin\/tool:2:/);
    expect(r['h2/bin/tool']!.message).not.toMatch(/h1\//);
    expect(r['h1/ok.sh']!.status).toBe('passed');
    expect(r['h2/ok.sh']!.status).toBe('passed');
    // the same bytes, but q's lib.sh does not set greeting: only q/run.sh fails
    expect(r['p/run.sh']!.status).toBe('passed');
    expect(r['q/run.sh']!.status).toBe('failed');
    expect(r['q/run.sh']!.message).toMatch(/greeting/);
  });
});

describe('slots', () => {
  it('serve waiters lowest rank first, in arrival order among equals, never more than the size at once', async () => {
    const slots = new Slots(2);
    const order: string[] = [];
    let running = 0;
    let most = 0;
    const job = (name: string, prio: number) =>
      slots.run(prio, async () => {
        running++;
        most = Math.max(most, running);
        order.push(name);
        await new Promise((r) => setTimeout(r, 5));
        running--;
      });
    await Promise.all([job('a', 5), job('b', 5), job('late-low', 9), job('c', 1), job('d', 1), job('e', 0)]);
    expect(order).toEqual(['a', 'b', 'e', 'c', 'd', 'late-low']);
    expect(most).toBe(2);
  });

  it('release the slot when the job throws', async () => {
    const slots = new Slots(1);
    await expect(slots.run(0, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(slots.run(0, async () => 'next')).resolves.toBe('next');
  });
});

describe('etcd readiness: the listener pattern matched against /proc/net/tcp{,6}', () => {
  const matches = (pattern: string, local: string, state = '0A') => {
    const line = `   3: ${local} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0`;
    return spawnSync('grep', ['-qE', pattern], { input: `${line}\n` }).status === 0;
  };
  it('matches LISTEN on the URL port at its address or a wildcard (IPv4 or IPv6), nothing else', () => {
    const p = listenPattern('http://10.0.0.5:2379');
    expect(matches(p, '0500000A:094B')).toBe(true);
    expect(matches(p, '00000000:094B')).toBe(true);
    expect(matches(p, '00000000000000000000000000000000:094B')).toBe(true); // Go's [::] for 0.0.0.0
    expect(matches(p, '0000000000000000FFFF00000500000A:094B')).toBe(true);
    expect(matches(p, '0500000A:094B', '01')).toBe(false); // established, not listening
    expect(matches(p, '0500000A:094C')).toBe(false); // the peer port
    expect(matches(p, '0600000A:094B')).toBe(false);
    expect(matches(listenPattern('http://0.0.0.0:2379'), '00000000000000000000000000000000:094B')).toBe(true);
    expect(matches(listenPattern('https://etcd-1'), '0100007F:01BB')).toBe(true);
    expect(matches(listenPattern('unix://etcd.sock'), '0100007F:01BB')).toBe(false);
  });
});
