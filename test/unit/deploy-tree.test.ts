/**
 * Each deploy copies everything its units need (issue 15). For every hosts deploy.sh of the golden
 * bundles and of `init --yes --tier multi-region --platform hosts` (top-level or regions/<r>/), per
 * host: every unit it enables/starts is a unit file in the tree it copies (hosts/<host>/ beside that
 * deploy.sh) or comes with a package it installs; every file a unit names (ExecStart* scripts,
 * EnvironmentFile, config paths under /etc and /usr/local, a timer's Unit=) is in that tree, or is
 * written by deploy.sh itself (.env-fed environment files, pki/ certificates); every command it runs
 * before/after is there too; and no hosts/<h>/ folder lies where no deploy.sh copies it.
 * Container bundles: every file a stack.yml/docker-compose*.yml names (configs, secrets, bind mounts,
 * build contexts) exists relative to that file.
 */
import { describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { parse } from 'yaml';
import { render } from '../../src/render/index.js';
import { resolveSpec } from '../../src/spec/resolve.js';
import { defaultInventory } from '../../src/wizard/index.js';
import { PRESETS, presetSpec } from '../helpers/presets.js';
import type { Spec } from '../../src/spec/schema.js';

const CTX = { version: 'test', specFile: 'ha-gen.yaml' };
type Files = ReturnType<typeof render>['files'];

/** Units that come with a Debian package instead of the bundle (the package must be installed). */
const PACKAGE_UNITS: Record<string, string> = { 'glusterd.service': 'glusterfs-server', 'nfs-server.service': 'nfs-kernel-server', 'docker.service': 'docker.io' };

const arr = (block: string, name: string, optional = false): string[] => {
  const m = new RegExp(`^\\s*${name}=\\((.*)\\)$`, 'm').exec(block);
  if (!m && optional) return [];
  if (!m) throw new Error(`no ${name}=(...) in ${block.slice(0, 200)}`);
  return [...m[1]!.matchAll(/'([^']*)'|(\S+)/g)].map((x) => x[1] ?? x[2]!);
};

interface HostDeploy { host: string; units: string[]; packages: string[]; files: string[]; before: string[]; after: string[]; env: string[]; pki: string[] }

/** What one deploy.sh does per host, read from its case blocks. */
function parseDeploy(sh: string): HostDeploy[] {
  const list = /--list\) echo "([^"]*)"/.exec(sh)![1]!.split(' ');
  return list.map((host) => {
    const block = new RegExp(`^  ${host}\\)\\n([\\s\\S]*?)^    ;;`, 'm').exec(sh)?.[1];
    if (!block) throw new Error(`no case block for ${host}`);
    const envBlock = new RegExp(`^    ${host}\\)\\n([\\s\\S]*?)^      : ;;`, 'm').exec(sh)?.[1] ?? '';
    return {
      host,
      units: arr(block, 'units'),
      packages: arr(block, 'packages'),
      files: arr(block, 'files').map((l) => l.split(' ')[3]!),
      before: arr(block, 'before_cmds'),
      after: arr(block, 'after_cmds'),
      env: [...envBlock.matchAll(/\| install_env (\S+)/g)].map((m) => m[1]!),
      pki: arr(block, 'pki_files', true)  /* only when the bundle has pki/ */.map((l) => l.split(' ')[1]!),
    };
  });
}

/** Absolute paths a unit file needs on the host: Exec* programs and /etc, /usr/local arguments, EnvironmentFile, Unit=. */
function unitNeeds(unit: string): string[] {
  const out: string[] = [];
  for (const line of unit.split('\n')) {
    const m = /^(Exec\w+|EnvironmentFile|Unit)=(.*)$/.exec(line);
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'Unit') out.push(`/etc/systemd/system/${value}`);
    else if (key === 'EnvironmentFile') {
      if (!value.startsWith('-')) out.push(value);
    } else {
      const cmd = value.replace(/^[@\-:+!]+/, '');
      const [prog, ...args] = cmd.split(/\s+/);
      if (prog && /^\/(etc|usr\/local)\//.test(prog)) out.push(prog);
      for (const a of args) {
        const p = /(?:^|=)(\/(?:etc|usr\/local)\/[\w.@/-]+)/.exec(a)?.[1];
        if (p && !p.endsWith('/')) out.push(p);
      }
    }
  }
  return out;
}

/** Paths a config file in the tree names under /etc/<deployment>, /etc/patroni, /etc/pgbackrest or /usr/local (files the bundle owns). */
function configNeeds(contents: string, name: string): string[] {
  const re = new RegExp(`(/etc/(?:${name}|patroni|pgbackrest|etcd)/[\\w.@/-]+|/usr/local/(?:s?bin)/[\\w.@-]+)`, 'g');
  return [...contents.matchAll(re)].map((m) => m[1]!.replace(/[.]$/, '')).filter((p) => !p.endsWith('/') && !/\.d$/.test(p));
}

function checkHosts(files: Files, name: string): string[] {
  const problems: string[] = [];
  const deploys = [...files.keys()].filter((p) => /(^|\/)deploy\.sh$/.test(p) && !/(^|\/)deploy\//.test(p) && files.get(p)!.contents.includes('install_tree'));
  const inDeployDocs = (p: string) => /(^|\/)deploy\//.test(p); // deploy/blue-green/hosts/: copied by its own script
  const copied = new Set<string>();
  for (const d of deploys) {
    const dir = path.posix.dirname(d) === '.' ? '' : `${path.posix.dirname(d)}/`;
    for (const h of parseDeploy(files.get(d)!.contents)) {
      const prefix = `${dir}hosts/${h.host}`;
      copied.add(`${prefix}/`);
      const tree = [...files.keys()].filter((p) => p.startsWith(`${prefix}/`)).map((p) => p.slice(prefix.length));
      const has = new Set([...tree, ...h.env, ...h.pki]);
      const where = `${d} ${h.host}`;
      // deploy.sh installs exactly the tree it copies
      if (JSON.stringify([...h.files].sort()) !== JSON.stringify([...tree].sort())) problems.push(`${where}: files=() differs from ${prefix}/`);
      for (const u of h.units) {
        const file = /\.(service|timer|mount|socket|target)$/.test(u) ? u : `${u}.service`;
        if (has.has(`/etc/systemd/system/${file}`)) continue;
        const pkg = PACKAGE_UNITS[file];
        if (!pkg || !h.packages.includes(pkg)) problems.push(`${where}: starts ${u}, whose unit is neither in ${prefix}/ nor from an installed package`);
      }
      const need = (from: string, p: string) => {
        if (!has.has(p) && !PACKAGE_UNITS[path.posix.basename(p)]) problems.push(`${where}: ${from} needs ${p}, not in ${prefix}/ nor written by deploy.sh`);
      };
      for (const t of tree) {
        const c = files.get(`${prefix}${t}`)!.contents;
        if (/^\/etc\/systemd\/system\/[^/]+\.(service|timer|mount)$/.test(t)) for (const p of unitNeeds(c)) need(t, p);
        else if (/\.(ya?ml|conf|cfg|sh)$/.test(t) || t.startsWith('/usr/local/')) for (const p of configNeeds(c, name)) need(t, p);
      }
      for (const c of [...h.before, ...h.after]) {
        const prog = c.split(/\s+/)[0]!;
        if (/^\/(etc|usr\/local)\//.test(prog)) need('a deploy step', prog);
      }
    }
  }
  const hostDirs = new Set([...files.keys()].flatMap((p) => /^(.*?hosts\/[^/]+\/)/.exec(p)?.[1] ?? []).filter((p) => !inDeployDocs(p)));
  for (const dir of hostDirs) if (!copied.has(dir)) problems.push(`${dir} is copied by no deploy.sh`);
  if (!deploys.length) problems.push('no hosts deploy.sh');
  return problems;
}

function checkContainers(files: Files): string[] {
  const problems: string[] = [];
  const stacks = [...files.keys()].filter((p) => /(^|\/)(stack[\w.-]*|docker-compose[\w.-]*)\.ya?ml$/.test(p));
  for (const s of stacks) {
    const dir = path.posix.dirname(s);
    const doc = parse(files.get(s)!.contents) as { services?: Record<string, { volumes?: unknown[]; build?: string | { context?: string } }>; configs?: Record<string, { file?: string }>; secrets?: Record<string, { file?: string }> };
    const rel = (p: string) => path.posix.normalize(path.posix.join(dir, p));
    const exists = (p: string) => files.has(p) || [...files.keys()].some((k) => k.startsWith(`${p}/`));
    for (const [k, v] of [...Object.entries(doc.configs ?? {}), ...Object.entries(doc.secrets ?? {})]) {
      // secrets of the .env (written by deploy.sh from it) are outside the bundle's files
      if (v.file && !v.file.includes('.env') && !v.file.includes('pki/') && !exists(rel(v.file))) problems.push(`${s}: ${k} names ${v.file}, not in the bundle`);
    }
    for (const [name, svc] of Object.entries(doc.services ?? {})) {
      for (const vol of svc.volumes ?? []) {
        const src = typeof vol === 'string' ? vol.split(':')[0]! : ((vol as { source?: string }).source ?? '');
        if (src.startsWith('./') && !exists(rel(src)) && !src.includes('pki')) problems.push(`${s}: ${name} mounts ${src}, not in the bundle`);
      }
      const ctx = typeof svc.build === 'string' ? svc.build : svc.build?.context;
      if (ctx && !exists(rel(ctx))) problems.push(`${s}: ${name} builds ${ctx}, not in the bundle`);
    }
  }
  return problems;
}

/** What `ha-gen init --yes --tier multi-region --platform hosts` writes (the example inventory). */
function initMultiRegion(ha?: string): Spec {
  const given: Record<string, unknown> = { tier: 'multi-region', platform: 'hosts', ...(ha ? { database: { ha } } : {}) };
  return resolveSpec([{ source: 'flags', values: given }, { source: 'answers', values: defaultInventory(given)! }]).spec;
}

const bundles: Array<[string, () => Spec]> = [
  ...PRESETS.filter((p) => (p.values as { platform?: string }).platform !== 'compose').map((p) => [p.id, () => presetSpec(p)] as [string, () => Spec]),
  ['init --yes --tier multi-region --platform hosts', () => initMultiRegion()],
  ['init --yes --tier multi-region --platform hosts --db-ha streaming', () => initMultiRegion('streaming')],
];

describe.each(bundles)('%s: every deploy copies what its units need', (_id, spec) => {
  it('holds', () => {
    const s = spec();
    const files = render(s, CTX).files;
    expect(s.platform === 'hosts' ? checkHosts(files, s.name) : checkContainers(files)).toEqual([]);
  });
});
