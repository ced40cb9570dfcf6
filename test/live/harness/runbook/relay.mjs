#!/usr/bin/env node
// The lab's stand-in for `ssh`, `systemctl` and `docker` on a lab host (test/live/runbook.test.ts):
// the request goes over a UNIX socket in the host's /run to the test, which runs it where a real
// server would (ssh: the command on the host owning the address; systemctl/docker: the host's
// units as the lab runs them). Output and exit code come back as the real tool's would.
import { connect } from 'node:net';
import { basename } from 'node:path';

const tool = process.env.HGLAB_RELAY_AS || basename(process.argv[1]);
const args = process.argv.slice(2);
let req;
if (tool === 'ssh') {
  let target = '';
  const rest = [...args];
  while (rest.length) {
    const a = rest.shift();
    if (['-o', '-i', '-p', '-l', '-F', '-J'].includes(a)) rest.shift();
    else if (a.startsWith('-')) continue;
    else { target = a; break; }
  }
  if (!target) { process.stderr.write('ssh (lab): no target\n'); process.exit(255); }
  // ssh joins the remote words with spaces; the remote shell splits them again.
  req = { tool, address: target.replace(/^.*@/, ''), cmd: rest.join(' ') };
} else {
  req = { tool, args };
}
const s = connect('/run/hglab-relay.sock');
let buf = '';
s.on('connect', () => s.write(`${JSON.stringify(req)}\n`));
s.on('data', (d) => { buf += d; });
s.on('error', (e) => { process.stderr.write(`${tool} (lab relay): ${e.message}\n`); process.exit(255); });
s.on('end', () => {
  const r = JSON.parse(buf);
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  process.exitCode = r.code;
});
