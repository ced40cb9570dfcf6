/**
 * Every patronictl command the golden Patroni RUNBOOK.md prints is one the Patroni the hosts install
 * (3.0.2 on Debian 12) accepts: its subcommand exists and `patronictl SUB --help` lists every flag.
 * Needs patronictl; without it the test says so (and fails under HA_GEN_REQUIRE_TOOLS=1).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SNAP = path.join(path.dirname(fileURLToPath(import.meta.url)), '../golden/__snapshots__');
const RUNBOOKS = ['hosts-multi-server-patroni/RUNBOOK.md'];
const have = spawnSync('patronictl', ['--help'], { encoding: 'utf8' }).status === 0;
if (!have) {
  if (process.env.HA_GEN_REQUIRE_TOOLS === '1') throw new Error('runbook-patronictl.test: patronictl is missing (HA_GEN_REQUIRE_TOOLS=1)');
  console.warn('runbook-patronictl.test: patronictl NOT installed: the RUNBOOK patronictl commands are NOT checked');
}

/** patronictl invocations of a runbook: subcommand and its words. */
function commands(runbook: string): Array<{ line: string; sub: string; args: string[] }> {
  return runbook.split('\n').flatMap((line) => {
    const m = /patronictl -c \S+ ([a-z-]+)([^"]*)"/.exec(line);
    return m ? [{ line, sub: m[1]!, args: m[2]!.trim().split(/\s+/).filter(Boolean) }] : [];
  });
}

describe.skipIf(!have).each(RUNBOOKS)('patronictl commands in %s', (rel) => {
  const cmds = commands(readFileSync(path.join(SNAP, rel), 'utf8'));

  it('there are some (list and failover at least)', () => {
    expect(cmds.map((c) => c.sub)).toEqual(expect.arrayContaining(['list', 'failover']));
  });

  it('each subcommand exists and accepts every flag it is given', () => {
    for (const c of cmds) {
      const help = spawnSync('patronictl', [c.sub, '--help'], { encoding: 'utf8' });
      expect(help.status, `${c.line}\n${help.stderr}`).toBe(0);
      const known = new Set(help.stdout.match(/--[a-z][a-z-]*/g) ?? []);
      for (const flag of c.args.filter((a) => a.startsWith('--'))) expect(known.has(flag.split('=')[0]!), `${flag} in: ${c.line}`).toBe(true);
    }
  });

  it('failover names its --candidate (Patroni 3.0.2 refuses --force without one)', () => {
    // the rule as the installed patronictl has it (patroni/ctl.py: "Failover could be performed only
    // to a specific candidate"), so a Patroni that drops it also drops this requirement
    const ctl = spawnSync('python3', ['-c', 'import inspect, patroni.ctl as c; print(inspect.getsource(c))'], { encoding: 'utf8' });
    const src = ctl.status === 0 ? ctl.stdout : readFileSync('/usr/lib/python3/dist-packages/patroni/ctl.py', 'utf8');
    const needsCandidate = src.includes('Failover could be performed only to a specific candidate');
    for (const c of cmds.filter((x) => x.sub === 'failover')) {
      if (needsCandidate) expect(c.args, c.line).toContain('--candidate');
      const i = c.args.indexOf('--candidate');
      if (i >= 0) expect(c.args[i + 1], c.line).toMatch(/^[a-z0-9-]+$/);
    }
  });
});
