/** Hostile input: exit 2, the message names the key and the allowed form, and the folder is left byte for byte. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, ensureBuilt, hashTree, runCli, tempDir } from '../helpers/cli.js';

let dir: string;
let before: Awaited<ReturnType<typeof hashTree>>;
let specText: string;

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('hostile');
  const r = await runCli(['init', '--yes'], { cwd: dir });
  expect(r.code, r.output).toBe(0);
  specText = await fs.readFile(path.join(dir, 'ha-gen.yaml'), 'utf8');
  before = await hashTree(dir);
});
afterAll(() => cleanupTempDirs());

const NO_STACK = /\n\s+at .+:\d+:\d+/;

describe('hostile flags to init (with --force, into an existing bundle)', () => {
  it.each([
    [['--lb', 'apache'], /--lb/, /nginx, haproxy, caddy|nginx \| haproxy \| caddy/],
    [['--tier', 'gold'], /--tier/, /single-server/],
    [['--tls', 'maybe'], /--tls/, /none, files, acme|none \| files \| acme/],
    [['--app-port', '70000'], /--app-port \(app\.port\)/, /1 to 65535|1-65535/],
    [['--app-port', '80;'], /--app-port \(app\.port\)/, /whole number/],
    [['--app-port', '-1'], /--app-port/, /./],
    [['--app-replicas', '1'], /--app-replicas \(app\.replicas\)/, /at least 2/],
    [['--app-replicas', '0'], /--app-replicas \(app\.replicas\)/, /0 is out of range: must be >=1/],
    [['--name', 'a;b'], /--name \(name\)/, /lowercase letters, digits and "-"/],
    [['--name', 'x\ny'], /--name \(name\)/, /lowercase letters/],
    [['--domain', 'evil.example.com\nserver {'], /--domain \(domain\)/, /fully qualified domain name/],
    [['--domain', 'evil.example.com}'], /--domain \(domain\)/, /fully qualified domain name/],
    [['--domain', 'evil example.com'], /--domain \(domain\)/, /fully qualified domain name/],
    [['--health-path', '/health\n'], /--health-path \(app\.healthPath\)/, /URL path/],
    [['--health-path', '/h;return 200'], /--health-path \(app\.healthPath\)/, /URL path/],
    [['--app-image', 'app:1 --privileged'], /--app-image \(app\.image\)/, /container image reference/],
    [['--tls', 'acme'], /domain/, /needs a public domain/],
    [['--tier', 'multi-server', '--platform', 'compose'], /--platform \(platform\)/, /choose platform swarm or hosts/],
  ])('init %j: exit 2, names the flag and what is allowed', async (args, key, allowed) => {
    const r = await runCli(['init', '--yes', '--force', ...args], { cwd: dir });
    expect(r.code, r.output).toBe(2);
    expect(r.stderr).toMatch(key);
    expect(r.stderr).toMatch(allowed);
    expect(r.output).not.toMatch(NO_STACK);
    expect(await hashTree(dir)).toEqual(before);
  });

  it('an unknown flag or command exits 2 with usage, nothing written', async () => {
    for (const args of [['init', '--yes', '--bogus'], ['frobnicate'], ['generate', '--check', 'extra-arg', 'more']]) {
      const r = await runCli(args, { cwd: dir });
      expect(r.code, `${args.join(' ')}: ${r.output}`).toBe(2);
      expect(r.output).not.toMatch(NO_STACK);
    }
    expect(await hashTree(dir)).toEqual(before);
  });
});

describe('hostile spec files to generate', () => {
  const withSpec = async (text: string) => {
    await fs.writeFile(path.join(dir, 'bad.yaml'), text);
    const r = await runCli(['generate', '-c', 'bad.yaml'], { cwd: dir });
    await fs.rm(path.join(dir, 'bad.yaml'));
    return r;
  };

  it.each([
    ['an unknown key', (t: string) => `${t}colour: blue\n`, /\(root\)/, /unknown key "colour"/],
    ['an unknown nested key', (t: string) => t.replace('loadBalancer:\n', 'loadBalancer:\n  tsl: acme\n'), /loadBalancer/, /unknown key "tsl"/],
    ['a wrong type', (t: string) => t.replace(/^  port: \d+$/m, '  port: "8210"'), /app\.port/, /wrong type; expected number/],
    ['a wrong type (list for a string)', (t: string) => t.replace(/^name: .*$/m, 'name: [a, b]'), /\bname\b/, /expected string/],
    ['a port out of range', (t: string) => t.replace(/^  port: \d+$/m, '  port: 70000'), /app\.port/, /1 to 65535/],
    ['a load balancer not supported', (t: string) => t.replace('kind: nginx', 'kind: apache'), /loadBalancer\.kind/, /nginx \| haproxy \| caddy/],
    ['a domain with a newline', (t: string) => `${t}domain: "shop.example.com\\nevil"\n`, /\bdomain\b/, /fully qualified domain name/],
    ['a domain with a brace', (t: string) => `${t}domain: "shop.example.com}"\n`, /\bdomain\b/, /fully qualified domain name/],
    ['a domain with a space', (t: string) => `${t}domain: "shop example.com"\n`, /\bdomain\b/, /fully qualified domain name/],
    [
      'a hostname with a newline',
      () => `version: 1\nplatform: hosts\nstorage: nfs\nhosts:\n  - {name: "lb1\\nx", address: 10.0.0.1, roles: [lb]}\n  - {name: app1, address: 10.0.0.2, roles: [app]}\n  - {name: app2, address: 10.0.0.3, roles: [app]}\n  - {name: db1, address: 10.0.0.4, roles: [db]}\n`,
      /hosts\.0\.name/,
      /DNS label/,
    ],
    [
      'a host address with a brace',
      () => `version: 1\nplatform: hosts\nstorage: nfs\nhosts:\n  - {name: lb1, address: "10.0.0.1}", roles: [lb]}\n  - {name: app1, address: 10.0.0.2, roles: [app]}\n  - {name: app2, address: 10.0.0.3, roles: [app]}\n  - {name: db1, address: 10.0.0.4, roles: [db]}\n`,
      /hosts\.0\.address/,
      /IPv4 address or a lowercase DNS name/,
    ],
    ['an env value with a dollar', (t: string) => t.replace('RUST_LOG: info', 'RUST_LOG: $HOME'), /app\.env\.RUST_LOG/, /no spaces, quotes or \$/],
    ['a duplicate key', (t: string) => `${t}name: other\n`, /bad\.yaml:\d+/, /unique|duplicate/i],
    ['broken YAML', () => 'version: 1\napp: {port: [\n', /bad\.yaml:\d+/, /./],
    ['a __proto__ key at the root', (t: string) => `${t}__proto__:\n  tier: multi-server\n`, /__proto__/, /not allowed/],
    ['a constructor key in app.env', (t: string) => t.replace('RUST_LOG: info', 'constructor: x'), /app\.env\.constructor/, /not allowed/],
    ['a newer version', (t: string) => t.replace('version: 1', 'version: 9'), /version/, /upgrade ha-gen/],
  ] as Array<[string, (spec: string) => string, RegExp, RegExp]>)('%s: exit 2 naming the key, bundle untouched', async (_what, text, key, allowed) => {
    const r = await withSpec(text(specText));
    expect(r.code, r.output).toBe(2);
    expect(r.stderr).toMatch(key);
    expect(r.stderr).toMatch(allowed);
    expect(r.output).not.toMatch(NO_STACK);
    expect(await hashTree(dir)).toEqual(before);
  });
});
