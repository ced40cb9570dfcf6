/** What the swarm target and the services it hosts (database, storage) build together: the stack's parts. */
import { createHash } from 'node:crypto';
import type { Spec } from '../../spec/schema.js';
import type { BundleBuilder, SecretDef } from '../../render/bundle.js';

/** Swarm configs are immutable: the name carries a hash of the content, so a change rolls the service. */
export const configName = (spec: Spec, key: string, contents: string) => `${spec.name}_${key}_${createHash('sha256').update(contents).digest('hex').slice(0, 10)}`;

export interface SwarmStack {
  services: Record<string, unknown>;
  volumes: Record<string, unknown>;
  secrets: Record<string, unknown>;
  /** Swarm secret key -> the .env variable deploy.sh creates it from. */
  secretEnv: Record<string, string>;
  configs: Record<string, unknown>;
  /** node labels deploy.sh sets: label -> description */
  labels: Array<{ label: string; what: string }>;
}

/**
 * The stack's overlay networks, so that a compromised app or load balancer cannot reach etcd or a
 * Patroni member (whoever writes etcd's leader key owns the cluster):
 * - edge: the load balancer and the app;
 * - data: the app and what it connects to: the database endpoint (db-endpoint with Patroni; the
 *   PostgreSQL services themselves otherwise) and MinIO;
 * - db: the database tier (members, standbys, etcd, the endpoint; MinIO when it holds the backups).
 * data and db are encrypted (IPsec between nodes: ESP, IP protocol 50, must pass between them).
 */
export const SWARM_NETWORKS = {
  edge: { driver: 'overlay', attachable: false },
  data: { driver: 'overlay', attachable: false, driver_opts: { encrypted: 'true' } },
  db: { driver: 'overlay', attachable: false, driver_opts: { encrypted: 'true' } },
} as const;
export type SwarmNetwork = keyof typeof SWARM_NETWORKS;
/** monitoring (monitoring.enabled): Prometheus, Alertmanager and the exporters; not internal, so Alertmanager reaches the webhook and SMTP relay. */
export const MONITORING_NETWORK = { driver: 'overlay', attachable: false, driver_opts: { encrypted: 'true' } } as const;

/** The networks of one database-tier or storage service, by what it is. */
export function swarmNetworksOf(spec: Spec, role: 'db-member' | 'etcd' | 'db-endpoint' | 'storage' | 'backup'): SwarmNetwork[] {
  switch (role) {
    // With Patroni the app reaches the members only through db-endpoint; without it, it connects to
    // the primary (and, after a manual promotion, a standby) directly.
    case 'db-member':
      return spec.database.ha === 'patroni' ? ['db'] : ['data', 'db'];
    case 'etcd':
      return ['db'];
    case 'db-endpoint':
      return ['data', 'db'];
    case 'storage':
      return spec.backup.repository === 's3' ? ['data', 'db'] : ['data'];
    // A backup service talks to its member (socket volume) and to an s3 repository (MinIO is on db then).
    case 'backup':
      return ['db'];
  }
}

/** The bundle file of the wrapper below and where services mount it (a Swarm config). */
export const SECRETS_ENV_FILE = 'docker/secrets-env.sh';
const SECRETS_ENV_TARGET = '/usr/local/lib/ha-gen/secrets-env.sh';

/**
 * For images that read a secret only from their environment (Patroni, HAProxy's config, the
 * postgres image's init scripts): each Swarm secret mounted as /run/secrets/NAME becomes the
 * variable NAME in the program's environment, so the value is in no service definition
 * (`docker service inspect`) and on no command line.
 */
const SECRETS_ENV_SCRIPT = `#!/bin/sh
# Exports every secret mounted as /run/secrets/NAME (NAME an upper-case variable name) as the
# variable NAME, then runs the image's own command. The value is read as data, never evaluated.
set -eu
for f in /run/secrets/*; do
  [ -f "$f" ] || continue
  name="\${f##*/}"
  case "$name" in
    *[!A-Z0-9_]* | [0-9]*) continue ;;
  esac
  value="$(cat "$f")"
  export "$name=$value"
done
exec "$@"
`;

/** The wrapper as a Swarm config, added to the bundle once; returns the entrypoint prefix and the config entry. */
export function secretsEnvWrapper(spec: Spec, b: BundleBuilder, header: string, stack: SwarmStack): { entrypoint: string[]; config: { source: string; target: string; mode: number } } {
  if (!b.has(SECRETS_ENV_FILE)) b.add(SECRETS_ENV_FILE, SECRETS_ENV_SCRIPT.replace('\n', `\n${header.trimEnd()}\n`), { mode: 0o755, checks: [{ tool: 'shell' }] });
  const name = configName(spec, 'secrets_env', b.contents(SECRETS_ENV_FILE));
  stack.configs[name] = { file: `./${SECRETS_ENV_FILE}` };
  return { entrypoint: ['/bin/sh', SECRETS_ENV_TARGET], config: { source: name, target: SECRETS_ENV_TARGET, mode: 0o555 } };
}

/** A .env value as a Swarm secret mounted at /run/secrets/<its name> (deploy.sh creates it from .env). */
export function swarmEnvSecret(spec: Spec, stack: SwarmStack, def: SecretDef): { source: string; target: string } {
  const key = def.name.toLowerCase();
  stack.secrets[key] = { name: `${spec.name}_${key}`, external: true };
  stack.secretEnv[key] = def.name;
  return { source: key, target: def.name };
}
