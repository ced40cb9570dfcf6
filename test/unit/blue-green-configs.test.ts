/**
 * Blue-green's green load-balancer config is the blue one with the other color's instances, nothing
 * else: a switch must keep every other route (ACME's HTTP-01 route to certbot, the metrics listener,
 * the stats page, TLS). The compose green config once sent ACME to 127.0.0.1:8888 while blue sent it
 * to the certbot container, so a renewal after a switch to green failed.
 */
import { describe, expect, it } from 'vitest';
import { render } from '../../src/render/index.js';
import { specSchema, type SpecInput } from '../../src/spec/schema.js';

const CTX = { version: 'test', specFile: 'ha-gen.yaml' };
const LBS = ['nginx', 'haproxy', 'caddy'] as const;
const TLS = [{ tls: 'none' }, { tls: 'acme', domain: 'registry.example.com', acmeEmail: 'ops@example.com' }, { tls: 'files', domain: 'registry.example.com' }] as const;

const cases: Array<{ platform: 'compose' | 'swarm'; input: SpecInput }> = [];
for (const kind of LBS)
  for (const t of TLS) {
    const { tls, ...rest } = t as { tls: string; domain?: string; acmeEmail?: string };
    const lb = { kind, tls, ...(rest.acmeEmail ? { acmeEmail: rest.acmeEmail } : {}) };
    const domain = rest.domain ? { domain: rest.domain } : {};
    cases.push({ platform: 'compose', input: { version: 1, tier: 'single-server', platform: 'compose', ...domain, loadBalancer: lb } as SpecInput });
    // acme on swarm is Caddy's only (rules.ts refuses it for nginx and HAProxy)
    if (tls !== 'acme' || kind === 'caddy') cases.push({ platform: 'swarm', input: { version: 1, tier: 'multi-server', platform: 'swarm', ...domain, loadBalancer: lb } as SpecInput });
  }

describe('blue-green: the green LB config differs from the blue one only in its instances', () => {
  for (const { platform, input } of cases) {
    const lb = (input as { loadBalancer: { kind: string; tls: string } }).loadBalancer;
    it(`${platform} ${lb.kind} tls ${lb.tls}`, () => {
      const parsed = specSchema.safeParse(input);
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
      const files = render(parsed.data!, CTX).files;
      const greens = [...files.keys()].filter((p) => p.startsWith('deploy/blue-green/') && /\.green(\.|$)/.test(p));
      expect(greens.length, 'one green LB config').toBe(1);
      const green = files.get(greens[0]!)!.contents;
      const bluePath = [...files.keys()].find((p) => p.split('/').pop() === greens[0]!.split('/').pop()!.replace('.green', '') && !p.startsWith('deploy/'));
      expect(bluePath, 'the blue config beside it').toBeTruthy();
      const blue = files.get(bluePath!)!.contents;
      // compose names green1..N for app1..N; swarm the app-green service for app
      const asBlue = platform === 'compose' ? green.replace(/\bgreen(\d+)\b/g, 'app$1') : green.replace(/\bapp-green\b/g, 'app');
      expect(asBlue).toBe(blue);
    });
  }
});
