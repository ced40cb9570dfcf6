/**
 * The bundle's CA and certificates in containers (pki/, made at the edge by `ha-gen generate` as on
 * hosts), delivered so that each key is readable by its service's user only:
 * - compose: a one-shot `pki-init` (root, no network) copies them from the read-only pki/ folder into
 *   one volume per service with the owner and mode that service needs; the service mounts its
 *   volume read-only. (A bind-mounted key keeps the host's owner and 0600; compose ignores uid/gid/mode
 *   on file secrets.)
 * - swarm: Swarm secrets read from pki/ by `docker stack deploy`, mounted with uid/gid/mode (which
 *   Swarm honours). Swarm secrets are immutable: a certificate issued again needs a new secret name.
 */
import type { Spec } from '../spec/schema.js';
import { header, type RenderContext } from '../render/context.js';
import type { BundleBuilder } from '../render/bundle.js';
import { renderTemplate } from '../render/templates.js';
import type { ContainerPkiUse } from './pki.js';
import type { SwarmStack } from './swarm/stack.js';
import pkiInstallSh from '../../templates/patroni/pki-install.sh.hbs?raw';

export const PKI_INSTALL_FILE = 'docker/pki-install.sh';
const PKI_INSTALL_TARGET = '/usr/local/lib/ha-gen/pki-install.sh';
export const PKI_INIT_SERVICE = 'pki-init';
const volumeOf = (service: string) => `pki-${service}`;
const octal = (mode: number) => `0${mode.toString(8)}`;
const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

type Depends = string[] | Record<string, { condition: string }>;

/** Adds a depends_on entry, turning a list (every condition service_started) into the long form. */
export function addDependsOn(svc: { depends_on?: Depends }, name: string, condition: string): void {
  const d = svc.depends_on;
  const long: Record<string, { condition: string }> = Array.isArray(d) ? Object.fromEntries(d.map((n) => [n, { condition: 'service_started' }])) : { ...(d ?? {}) };
  long[name] = { condition };
  svc.depends_on = long;
}

/**
 * compose: the pki-init service (in `image`, which has sh and install: the bundle's Patroni image)
 * and each using service's read-only volume; only services present in `services` are served.
 * Returns the volume names to declare.
 */
export function wireComposePki(spec: Spec, ctx: RenderContext, b: BundleBuilder, services: Record<string, unknown>, uses: ContainerPkiUse[], image: Record<string, unknown>): string[] {
  const present = uses.filter((u) => services[u.service]);
  if (!present.length) return [];
  const rows = present.map((u) => ({ service: u.service, dir: u.dir, files: u.files.map((f) => ({ src: f.src, name: baseName(f.path), uid: f.uid, mode: octal(f.mode) })) }));
  b.add(PKI_INSTALL_FILE, renderTemplate(pkiInstallSh, { header: header(ctx).trimEnd(), uses: rows, count: rows.reduce((n, r) => n + r.files.length, 0), volumes: rows.length }), { mode: 0o755, checks: [{ tool: 'shell' }] });
  for (const u of present) {
    const svc = services[u.service] as { volumes?: string[]; depends_on?: Depends };
    svc.volumes = [...(svc.volumes ?? []), `${volumeOf(u.service)}:${u.dir}:ro`];
    addDependsOn(svc, PKI_INIT_SERVICE, 'service_completed_successfully');
  }
  services[PKI_INIT_SERVICE] = {
    ...image,
    // root: it reads pki/ (0600, this host's user) and hands each file to its service's uid.
    user: '0:0',
    entrypoint: ['/bin/sh', PKI_INSTALL_TARGET],
    volumes: ['./pki:/pki:ro', `./${PKI_INSTALL_FILE}:${PKI_INSTALL_TARGET}:ro`, ...present.map((u) => `${volumeOf(u.service)}:/out/${u.service}`)],
    restart: 'no',
    network_mode: 'none',
    security_opt: ['no-new-privileges:true'],
  };
  return present.map((u) => volumeOf(u.service));
}

/** swarm: every pki/ file a service of the stack uses, as a Swarm secret mounted where the service reads it. */
export function wireSwarmPki(spec: Spec, stack: SwarmStack, uses: ContainerPkiUse[], pkiRel: string): void {
  for (const u of uses) {
    const svc = stack.services[u.service] as { secrets?: unknown[] } | undefined;
    if (!svc) continue;
    const mounts = u.files.map((f) => {
      const key = `pki_${f.src.replace(/[^A-Za-z0-9]+/g, '_')}`;
      stack.secrets[key] = { file: `${pkiRel}/${f.src}`, name: `${spec.name}_${key}` };
      return { source: key, target: f.path, uid: String(f.uid), gid: String(f.uid), mode: f.mode };
    });
    svc.secrets = [...(svc.secrets ?? []), ...mounts];
  }
}
