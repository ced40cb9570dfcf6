#!/usr/bin/env node
/**
 * The container lab's image builder. No registry is reachable here, so every image a generated
 * bundle names is built locally from Debian packages and tagged with that exact name:
 *
 *   ha-gen-lab/debian:bookworm   debootstrap --variant=minbase bookworm, `docker import`ed
 *   postgres:15                  postgres/   (official entrypoint behaviour, see its docker-entrypoint.sh)
 *   nginx:1.27                   nginx/
 *   haproxy:2.8                  haproxy/
 *   caddy:2.8                    caddy/
 *   gcr.io/etcd-development/etcd:v3.5.17   etcd/
 *   ghcr.io/victorytek/home-registry:latest (+ :v2, :broken)   app/  (a stand-in, see standin.py)
 *   prom/prometheus, prom/alertmanager, prom/node-exporter, prometheuscommunity/postgres-exporter,
 *   prom/blackbox-exporter, nginx/nginx-prometheus-exporter   (monitoring; Debian's packages)
 *
 * The Patroni and pgBackRest images are not built here: the tests build them from the bundle's own
 * Dockerfiles (FROM postgres:15). README.md says where each image differs from the official one.
 *
 * Cached by content: each image carries the label ha-gen-lab.key = sha256 of its folder, its base's
 * key and the Debian versions of the packages it installs (`# lab-packages:` line, from apt-cache), and
 * is rebuilt only when that changes. The images live in the lab dockerd's data root, which the harness
 * keeps in the cache folder ($HA_GEN_LAB_CACHE, default $XDG_CACHE_HOME/ha-gen-lab or
 * /var/cache/ha-gen-lab); the debootstrap tree is kept there as a tarball too.
 *
 * Usage: DOCKER_HOST=unix:///... node test/containers/images/build.mjs [--quiet]
 * Needs the lab dockerd (DOCKER_HOST), debootstrap and network access to Debian's mirror (builds run
 * with --network host: the lab dockerd has no bridge).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const IMAGES_DIR = path.dirname(fileURLToPath(import.meta.url));

export const BASE_TAG = 'ha-gen-lab/debian:bookworm';
/** Debian's PostgreSQL major here: the bundles the tests generate use database.version 15. */
export const PG_MAJOR = 15;

/** Each lab image: its folder and the exact names the generated bundles use. */
export const IMAGES = [
  { dir: 'postgres', tags: [`postgres:${PG_MAJOR}`] },
  { dir: 'nginx', tags: ['nginx:1.27'] },
  { dir: 'haproxy', tags: ['haproxy:2.8'] },
  { dir: 'caddy', tags: ['caddy:2.8'] },
  { dir: 'etcd', tags: ['gcr.io/etcd-development/etcd:v3.5.17'] },
  // Monitoring (the official images' names, as the bundle pins them).
  { dir: 'prometheus', tags: ['prom/prometheus:v2.53.2'] },
  { dir: 'alertmanager', tags: ['prom/alertmanager:v0.27.0'] },
  { dir: 'node-exporter', tags: ['prom/node-exporter:v1.8.2'] },
  { dir: 'postgres-exporter', tags: ['prometheuscommunity/postgres-exporter:v0.15.0'] },
  { dir: 'blackbox-exporter', tags: ['prom/blackbox-exporter:v0.25.0'] },
  { dir: 'nginx-exporter', tags: ['nginx/nginx-prometheus-exporter:1.3.0'] },
  {
    dir: 'app',
    tags: ['ghcr.io/victorytek/home-registry:latest'],
    // The same stand-in as a "new version" and as a new image whose health check fails.
    variants: [
      { tag: 'ghcr.io/victorytek/home-registry:v2', env: { STANDIN_VERSION: 'v2' } },
      { tag: 'ghcr.io/victorytek/home-registry:broken', env: { STANDIN_VERSION: 'broken', STANDIN_HEALTH: 'fail' } },
    ],
  },
];

/** The app stand-in's tags, for the tests. */
export const APP = { image: 'ghcr.io/victorytek/home-registry:latest', v2: 'ghcr.io/victorytek/home-registry:v2', broken: 'ghcr.io/victorytek/home-registry:broken' };

export function cacheDir() {
  return process.env.HA_GEN_LAB_CACHE || (process.env.XDG_CACHE_HOME ? path.join(process.env.XDG_CACHE_HOME, 'ha-gen-lab') : '/var/cache/ha-gen-lab');
}

const sha = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? p : p).update('\0');
  return h.digest('hex');
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
  if (r.error) throw r.error;
  return r;
}

function must(cmd, args, opts = {}) {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${(r.stdout ?? '').slice(-4000)}\n${(r.stderr ?? '').slice(-4000)}`);
  return r.stdout ?? '';
}

function filesOf(dir) {
  const out = [];
  for (const e of readdirSync(dir).sort()) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...filesOf(p));
    else out.push(p);
  }
  return out;
}

/** The Debian version apt would install for each package (from this machine's apt lists; '' if unknown). */
function debVersions(pkgs) {
  if (!pkgs.length) return '';
  const r = run('apt-cache', ['show', '--no-all-versions', ...pkgs]);
  return (r.stdout ?? '')
    .split('\n')
    .filter((l) => /^(Package|Version):/.test(l))
    .join('\n');
}

function imageKey(tag) {
  const r = run('docker', ['image', 'inspect', '-f', '{{index .Config.Labels "ha-gen-lab.key"}}', tag]);
  return r.status === 0 ? r.stdout.trim() : null;
}

/** debootstrap once per key; the tree is kept as a tarball in the cache so a lost data root re-imports in seconds. */
function ensureBase(log) {
  const sources = readFileSync(path.join(IMAGES_DIR, 'base/sources.list'), 'utf8');
  const debootstrapVersion = run('dpkg-query', ['-W', '-f', '${Version}', 'debootstrap']).stdout ?? '';
  const key = sha('base-v1', sources, debootstrapVersion, 'minbase bookworm');
  if (imageKey(BASE_TAG) === key) return { key, built: false };
  const cache = cacheDir();
  mkdirSync(cache, { recursive: true });
  const tarball = path.join(cache, `base-${key.slice(0, 16)}.tar`);
  if (!existsSync(tarball)) {
    if (!run('sh', ['-c', 'command -v debootstrap']).stdout) throw new Error('debootstrap is not installed (apt-get install debootstrap)');
    const root = path.join(cache, 'tmp', `rootfs-${process.pid}`);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(path.dirname(root), { recursive: true });
    log(`debootstrap --variant=minbase bookworm (about a minute)`);
    must('debootstrap', ['--variant=minbase', 'bookworm', root, 'http://deb.debian.org/debian'], { stdio: ['ignore', 'pipe', 'pipe'] });
    writeFileSync(path.join(root, 'etc/apt/sources.list'), sources);
    // Smaller and reproducible: no package lists or downloaded debs in the base.
    rmSync(path.join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    mkdirSync(path.join(root, 'var/cache/apt/archives/partial'), { recursive: true });
    for (const f of readdirSync(path.join(root, 'var/lib/apt/lists'))) if (f !== 'partial' && f !== 'lock') rmSync(path.join(root, 'var/lib/apt/lists', f), { force: true });
    // Containers have no init system: keep dpkg from starting services and from installing docs.
    writeFileSync(path.join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    writeFileSync(path.join(root, 'etc/dpkg/dpkg.cfg.d/01-lab-nodoc'), 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n');
    writeFileSync(path.join(root, 'etc/apt/apt.conf.d/01-lab'), 'APT::Install-Recommends "false";\nAcquire::Retries "3";\n');
    must('tar', ['-C', root, '--numeric-owner', '-cf', `${tarball}.tmp`, '.']);
    renameSync(`${tarball}.tmp`, tarball);
    rmSync(root, { recursive: true, force: true });
    for (const f of readdirSync(cache)) if (/^base-[0-9a-f]{16}\.tar$/.test(f) && path.join(cache, f) !== tarball) rmSync(path.join(cache, f), { force: true });
  }
  log(`docker import ${BASE_TAG}`);
  must('docker', ['import', '--change', `LABEL ha-gen-lab.key=${key}`, '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--change', 'CMD ["bash"]', tarball, BASE_TAG]);
  return { key, built: true };
}

function buildImage(img, baseKey, log) {
  const dir = path.join(IMAGES_DIR, img.dir);
  const files = filesOf(dir);
  const dockerfile = readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
  const pkgs = (/^# lab-packages:(.*)$/m.exec(dockerfile)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const key = sha('image-v1', baseKey, ...files.flatMap((f) => [path.relative(dir, f), readFileSync(f)]), debVersions(pkgs), JSON.stringify(img.variants ?? []));
  const main = img.tags[0];
  let built = false;
  if (imageKey(main) !== key) {
    log(`docker build ${img.tags.join(', ')}`);
    must('docker', ['build', '--network', 'host', '--label', `ha-gen-lab.key=${key}`, ...img.tags.flatMap((t) => ['-t', t]), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    built = true;
  }
  for (const v of img.variants ?? []) {
    if (!built && imageKey(v.tag) === key && variantOk(v)) continue;
    log(`docker build ${v.tag}`);
    const df = [`FROM ${main}`, ...Object.entries(v.env).map(([k, val]) => `ENV ${k}=${val}`), ''].join('\n');
    must('docker', ['build', '--label', `ha-gen-lab.key=${key}`, '-t', v.tag, '-'], { input: df, stdio: ['pipe', 'pipe', 'pipe'] });
  }
  return built;
}

function variantOk(v) {
  const r = run('docker', ['image', 'inspect', '-f', '{{json .Config.Env}}', v.tag]);
  if (r.status !== 0) return false;
  const env = JSON.parse(r.stdout);
  return Object.entries(v.env).every(([k, val]) => env.includes(`${k}=${val}`));
}

/** Builds what is missing or stale. Needs DOCKER_HOST (or the default socket) to be the lab dockerd. */
export function ensureImages({ quiet = false } = {}) {
  const t0 = Date.now();
  const log = (m) => {
    if (!quiet) process.stderr.write(`lab images: ${m}\n`);
  };
  const base = ensureBase(log);
  const rebuilt = [];
  if (base.built) rebuilt.push(BASE_TAG);
  for (const img of IMAGES) if (buildImage(img, base.key, log)) rebuilt.push(img.tags[0]);
  // Dangling layers from earlier keys: the data root stays the size of one set of images.
  if (rebuilt.length) run('docker', ['image', 'prune', '-f']);
  const seconds = (Date.now() - t0) / 1000;
  log(rebuilt.length ? `built ${rebuilt.join(', ')} in ${seconds.toFixed(1)} s` : `all ${IMAGES.length + 1} images up to date (${seconds.toFixed(1)} s)`);
  return { rebuilt, seconds };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    ensureImages({ quiet: process.argv.includes('--quiet') });
  } catch (e) {
    process.stderr.write(`lab images: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
