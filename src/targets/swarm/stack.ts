/** What the swarm target and the services it hosts (database, storage) build together: the stack's parts. */
import { createHash } from 'node:crypto';
import type { Spec } from '../../spec/schema.js';

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

/** The networks of one database-tier or storage service, by what it is. */
export function swarmNetworksOf(spec: Spec, role: 'db-member' | 'etcd' | 'db-endpoint' | 'storage'): SwarmNetwork[] {
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
  }
}
