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
