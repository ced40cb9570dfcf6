import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InitFlags } from '../../src/cli/index.js';
import { flagsToLayer, specToYaml } from '../../src/commands/pipeline.js';
import { render } from '../../src/render/index.js';
import { parseSpecText } from '../../src/spec/load.js';
import { resolveSpec } from '../../src/spec/resolve.js';
import { specSchema } from '../../src/spec/schema.js';
import { askQuestions, confirmWrite, defaultExamples, type Choice, type Prompter } from '../../src/wizard/index.js';

type Answer = string | boolean | ((q: Asked) => string | boolean);
interface Asked {
  kind: 'select' | 'input' | 'confirm';
  name: string;
  message: string;
  default?: unknown;
  choices?: string[];
  validate?: (v: string) => true | string;
}

/** Answers by question name; a question it has no answer for fails the test. 'DEFAULT' takes the shown default. */
function fakePrompter(answers: Record<string, Answer>) {
  const asked: Asked[] = [];
  const answer = (q: Asked): unknown => {
    asked.push(q);
    if (!(q.name in answers)) throw new Error(`unexpected question "${q.name}" (${q.message})`);
    const a = answers[q.name]!;
    const v = typeof a === 'function' ? a(q) : a;
    return v === 'DEFAULT' ? q.default : v;
  };
  const p: Prompter = {
    async select<T extends string>(q: { name: string; message: string; choices: Choice<T>[]; default: T }) {
      expect(q.choices.map((c) => c.value), `default of ${q.name} must be one of its choices`).toContain(q.default);
      for (const c of q.choices) expect(c.description.length, `choice ${c.value} of ${q.name} explains itself`).toBeGreaterThan(10);
      const v = answer({ kind: 'select', name: q.name, message: q.message, default: q.default, choices: q.choices.map((c) => c.value) }) as T;
      expect(q.choices.map((c) => c.value), `answer to ${q.name}`).toContain(v);
      return v;
    },
    async input(q) {
      const v = answer({ kind: 'input', name: q.name, message: q.message, default: q.default, validate: q.validate }) as string;
      expect(q.validate(v), `answer ${JSON.stringify(v)} to ${q.name} passes its own validation`).toBe(true);
      return v;
    },
    async confirm(q) {
      return answer({ kind: 'confirm', name: q.name, message: q.message, default: q.default }) as boolean;
    },
  };
  return { p, asked, names: () => asked.map((q) => q.name) };
}

const ALL = ['tier', 'platform', 'lb', 'db', 'storage', 'domain', 'tls', 'appImage', 'monitoring'];
// alertWebhook follows only a yes to monitoring (the single-server default is no)
const DEFAULTS = Object.fromEntries([...ALL, 'alertWebhook'].map((n) => [n, 'DEFAULT']));
const init = (f: Partial<InitFlags> = {}): InitFlags => ({ config: 'ha-gen.yaml', out: 'ha-bundle', ...f });

/** The spec file text that init writes for these flags and wizard answers. */
function specText(f: Partial<InitFlags>, wizardAnswers?: Record<string, unknown>): string {
  const layer = flagsToLayer(init(f));
  // without a terminal, init adds the examples the wizard would have written (inventory, floating address)
  const answers = wizardAnswers ?? defaultExamples(layer.values)?.values ?? {};
  return specToYaml(resolveSpec([layer, { source: 'answers', values: answers }]).spec);
}

describe('wizard questions', () => {
  it('without flags asks every question once, in order', async () => {
    const f = fakePrompter(DEFAULTS);
    await askQuestions({}, f.p);
    expect(f.names()).toEqual(ALL);
  });

  it('asks nothing that flags answered', async () => {
    const cases: Array<[Partial<InitFlags>, string[]]> = [
      [{ tier: 'single-server' }, ['tier']],
      [{ platform: 'compose' }, ['platform']],
      [{ lb: 'caddy' }, ['lb']],
      [{ db: 'none' }, ['db']],
      [{ storage: 'local' }, ['storage']],
      [{ domain: 'shop.example.com' }, ['domain']],
      [{ tls: 'files' }, ['tls']],
      [{ appImage: 'ghcr.io/acme/shop:1.0' }, ['appImage']],
      [{ monitoring: false }, ['monitoring']],
      [{ tier: 'single-server', platform: 'compose', lb: 'haproxy', db: 'none', storage: 'local', domain: 'a.example.com', tls: 'acme', appImage: 'nginx:1', monitoring: false }, ALL],
    ];
    for (const [given, skipped] of cases) {
      const f = fakePrompter(DEFAULTS);
      await askQuestions(flagsToLayer(init(given)).values, f.p);
      expect(f.names(), JSON.stringify(given)).toEqual(ALL.filter((n) => !skipped.includes(n)));
    }
  });

  it('all defaults give the same spec as `init --yes` without flags', async () => {
    const f = fakePrompter(DEFAULTS);
    const a = await askQuestions({}, f.p);
    expect(specText({}, a)).toBe(specText({}));
  });

  it('explains the tiers with the guide availability figures', async () => {
    const f = fakePrompter(DEFAULTS);
    let descriptions: string[] = [];
    const p: Prompter = { ...f.p, select: async (q) => ((descriptions = q.name === 'tier' ? q.choices.map((c) => `${c.name}: ${c.description}`) : descriptions), f.p.select(q)) };
    await askQuestions({}, p);
    expect(descriptions.join('\n')).toMatch(/single-server.*99%/);
    expect(descriptions.join('\n')).toMatch(/multi-server.*99\.9%/);
    expect(descriptions.join('\n')).toMatch(/multi-region.*99\.99%/);
  });

  it('an HA tier does not offer choices that cannot deliver it, and defaults to its preset', async () => {
    const f = fakePrompter({ ...DEFAULTS, tier: 'multi-server' });
    await askQuestions({}, f.p);
    const q = (n: string) => f.asked.find((x) => x.name === n)!;
    expect(q('platform').choices).not.toContain('compose');
    expect(q('platform').default).toBe('swarm');
    expect(q('db').choices).not.toContain('none');
    expect(q('db').default).toBe('patroni');
    expect(q('storage').choices).not.toContain('local');
    expect(q('storage').default).toBe('glusterfs');
  });

  it('offers acme only with a domain, and then defaults to it', async () => {
    const none = fakePrompter(DEFAULTS);
    await askQuestions({}, none.p);
    expect(none.asked.find((x) => x.name === 'tls')!.choices).toEqual(['none', 'files']);
    const withDomain = fakePrompter({ ...DEFAULTS, domain: 'shop.example.com' });
    const a = await askQuestions({}, withDomain.p);
    const tls = withDomain.asked.find((x) => x.name === 'tls')!;
    expect(tls.choices).toContain('acme');
    expect(tls.default).toBe('acme');
    expect(a).toMatchObject({ domain: 'shop.example.com', loadBalancer: { tls: 'acme' } });
    // swarm: only Caddy obtains certificates itself; nginx/HAProxy there are not offered acme
    for (const [lb, offered] of [['haproxy', false], ['nginx', false], ['caddy', true]] as const) {
      const f = fakePrompter({ ...DEFAULTS, tier: 'multi-server', platform: 'swarm', lb, db: 'patroni', storage: 'glusterfs', domain: 'shop.example.com' });
      await askQuestions({}, f.p);
      const q = f.asked.find((x) => x.name === 'tls')!;
      expect(q.choices?.includes('acme'), lb).toBe(offered);
      expect(q.default, lb).toBe(offered ? 'acme' : 'none');
    }
  });

  it('input questions refuse hostile values with the allowed form', async () => {
    const f = fakePrompter(DEFAULTS);
    await askQuestions({}, f.p);
    const domain = f.asked.find((x) => x.name === 'domain')!.validate!;
    expect(domain('')).toBe(true);
    expect(domain('shop.example.com')).toBe(true);
    for (const bad of ['shop.example.com\nx', 'a b.com', 'x.com}', 'x.com;', 'UPPER.example.com']) expect(domain(bad)).toMatch(/fully qualified domain name/);
    const image = f.asked.find((x) => x.name === 'appImage')!.validate!;
    expect(image('ghcr.io/acme/shop:1.2.0')).toBe(true);
    for (const bad of ['shop latest', 'shop:1.0\n', 'shop;rm']) expect(image(bad)).toMatch(/container image/);
  });

  it('platform hosts gets an example inventory that resolves', async () => {
    const f = fakePrompter({ ...DEFAULTS, tier: 'multi-server', platform: 'hosts', db: 'patroni' });
    const a = await askQuestions({}, f.p);
    const { spec } = resolveSpec([{ source: 'answers', values: a }]);
    expect(spec.hosts.filter((h) => h.roles.includes('etcd'))).toHaveLength(3);
    expect(spec.app.replicas).toBeGreaterThanOrEqual(2);
  });
});

describe('answers + flags = the equivalent flags alone (same spec file text)', () => {
  const scenarios: Array<{ flags: Partial<InitFlags>; answers: Record<string, Answer>; equivalent: Partial<InitFlags> }> = [
    {
      flags: {},
      answers: { tier: 'single-server', platform: 'compose', lb: 'haproxy', db: 'none', storage: 'local', domain: 'shop.example.com', tls: 'acme', appImage: 'ghcr.io/acme/shop:2.1', monitoring: true, alertWebhook: 'https://alerts.example.com/hook' },
      equivalent: { lb: 'haproxy', domain: 'shop.example.com', tls: 'acme', appImage: 'ghcr.io/acme/shop:2.1', monitoring: true, alertWebhook: 'https://alerts.example.com/hook' },
    },
    {
      flags: { lb: 'caddy', name: 'shop', appPort: '9000' },
      answers: { ...DEFAULTS, tls: 'files' },
      equivalent: { lb: 'caddy', name: 'shop', appPort: '9000', tls: 'files' },
    },
    {
      flags: { tier: 'multi-server' },
      answers: { platform: 'swarm', lb: 'nginx', db: 'patroni', storage: 's3', domain: '', tls: 'none', appImage: 'DEFAULT', monitoring: false },
      equivalent: { tier: 'multi-server', platform: 'swarm', db: 'patroni', storage: 's3', monitoring: false },
    },
    {
      flags: { platform: 'hosts' },
      answers: { ...DEFAULTS, tier: 'multi-server', db: 'patroni', storage: 'glusterfs' },
      equivalent: { platform: 'hosts', tier: 'multi-server', db: 'patroni', storage: 'glusterfs' },
    },
    {
      flags: { tier: 'multi-region', platform: 'hosts' },
      answers: { ...DEFAULTS, lb: 'haproxy' },
      equivalent: { tier: 'multi-region', platform: 'hosts', lb: 'haproxy' },
    },
    {
      flags: { platform: 'hosts', storage: 'nfs' },
      answers: DEFAULTS,
      equivalent: { platform: 'hosts', storage: 'nfs' },
    },
    // init --yes --platform hosts takes the wizard's defaults: shared storage for the app hosts
    {
      flags: { platform: 'hosts' },
      answers: DEFAULTS,
      equivalent: { platform: 'hosts' },
    },
    {
      flags: { platform: 'swarm', healthPath: '/ready', appReplicas: '4' },
      answers: DEFAULTS,
      equivalent: { platform: 'swarm', healthPath: '/ready', appReplicas: '4' },
    },
  ];
  it.each(scenarios.map((s, i) => [i, s] as const))('scenario %i', async (_i, s) => {
    const f = fakePrompter(s.answers);
    const a = await askQuestions(flagsToLayer(init(s.flags)).values, f.p);
    const viaWizard = specText(s.flags, a);
    const viaFlags = specText(s.equivalent);
    expect(viaWizard).toBe(viaFlags);
    // and the text is a valid spec that reads back to itself
    expect(specSchema.safeParse((await import('yaml')).parse(viaWizard)).success).toBe(true);
  });
});

describe('confirmWrite', () => {
  afterEach(() => vi.restoreAllMocks());

  it('shows a summary and asks one confirm question; its answer decides', async () => {
    let printed = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((printed += String(s)), true));
    const spec = resolveSpec([{ source: 'flags', values: { loadBalancer: { kind: 'haproxy' } } }]).spec;
    const yes = fakePrompter({ confirm: true });
    expect(await confirmWrite(yes.p, spec, 'ha-gen.yaml', 'ha-bundle', 9, 0)).toBe(true);
    expect(yes.names()).toEqual(['confirm']);
    expect(yes.asked[0]!.message).toMatch(/Write ha-gen.yaml and 9 files into ha-bundle\//);
    expect(printed).toMatch(/tier single-server \(99%\), platform compose, haproxy, database none/);
    const no = fakePrompter({ confirm: false });
    expect(await confirmWrite(no.p, spec, 'ha-gen.yaml', 'ha-bundle', 9, 2)).toBe(false);
    expect(no.asked[0]!.message).toMatch(/2 existing file\(s\) would need --force/);
  });
});

describe('every path through the wizard gives a spec that resolves', () => {
  /** Walks every choice of the select questions (depth first); inputs take their defaults. */
  async function allPaths(given: Record<string, unknown>): Promise<Array<{ path: string[]; answers: Record<string, unknown> }>> {
    const out: Array<{ path: string[]; answers: Record<string, unknown> }> = [];
    const todo: number[][] = [[]];
    while (todo.length) {
      const prefix = todo.pop()!;
      let depth = 0;
      const taken: string[] = [];
      const p: Prompter = {
        async select(q) {
          const i = prefix[depth] ?? 0;
          if (depth >= prefix.length) for (let k = 1; k < q.choices.length; k++) todo.push([...prefix.slice(0, depth), ...Array<number>(depth - prefix.length).fill(0), k]);
          depth++;
          taken.push(`${q.name}=${q.choices[i]!.value}`);
          return q.choices[i]!.value;
        },
        async input(q) {
          return q.default ?? '';
        },
        async confirm(q) {
          return q.default;
        },
      };
      const answers = await askQuestions(given, p);
      out.push({ path: taken, answers });
    }
    return out;
  }

  it('no flags: every combination of tier, platform, load balancer, database, storage and TLS the wizard offers resolves and renders', { timeout: 60_000 }, async () => {
    const paths = await allPaths({});
    expect(paths.length).toBeGreaterThan(50);
    const refused: string[] = [];
    for (const { path, answers } of paths) {
      try {
        // resolves, and renders (a path the wizard offers must produce a bundle)
        const { spec } = resolveSpec([{ source: 'answers', values: answers }]);
        render(spec, { version: '0.0.0', specFile: 'ha-gen.yaml' });
        // the spec file init writes reads back to the same spec (`generate` accepts what `init` wrote)
        const text = specToYaml(spec);
        expect(specToYaml(resolveSpec([{ source: 'file', values: parseSpecText(text) }]).spec)).toBe(text);
      } catch (e) {
        refused.push(`${path.join(' ')}: ${(e as { issues?: Array<{ path: string; message: string }> }).issues?.map((i) => `${i.path}: ${i.message}`).join('; ') ?? String(e)}`);
      }
    }
    expect(refused.join('\n')).toBe('');
  });

  it('with a domain given: acme paths are valid too', async () => {
    const paths = await allPaths({ domain: 'shop.example.com' });
    for (const { answers } of paths) expect(() => resolveSpec([{ source: 'flags', values: { domain: 'shop.example.com' } }, { source: 'answers', values: answers }])).not.toThrow();
  });
});
