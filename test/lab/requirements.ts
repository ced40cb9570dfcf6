/**
 * Whether the whole-host lab can run here, for describe.skipIf. Kept apart from lab.ts so that the
 * lab itself imports nothing but Node's own modules (a test can bundle it into a child process).
 */
import { execFileSync } from 'node:child_process';
import { REQUIRE_TOOLS, skipUnlessTool } from '../helpers/tools.js';

/**
 * The lab needs root, ip, unshare, nsenter, mount, setpriv, setsid, bash, env and a kernel that
 * allows network/PID/mount namespaces. Missing: a loud warning and { skip: true }; under
 * HA_GEN_REQUIRE_TOOLS=1 an error instead.
 */
export function labRequirements(what = 'whole-host lab'): { skip: boolean; reason?: string } {
  const tools = skipUnlessTool(['ip', 'unshare', 'nsenter', 'mount', 'setpriv', 'setsid', 'bash', 'env'], what);
  if (tools.skip) return tools;
  let reason: string | null = null;
  if (process.getuid?.() !== 0) reason = 'it needs root (network, mount and PID namespaces, veth and bridge links)';
  else {
    try {
      execFileSync('unshare', ['--net', '--pid', '--mount', '--fork', '--propagation', 'private', 'true'], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      reason = 'this kernel or container does not allow unshare --net --pid --mount';
    }
  }
  if (!reason) return { skip: false };
  if (REQUIRE_TOOLS) throw new Error(`${what}: ${reason} (HA_GEN_REQUIRE_TOOLS=1)`);
  const msg = `${what}: SKIPPED because ${reason} (set HA_GEN_REQUIRE_TOOLS=1 to make this a failure)`;
  console.warn(`\n*** ${msg} ***\n`);
  return { skip: true, reason: msg };
}
