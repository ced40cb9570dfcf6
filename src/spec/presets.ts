import type { SpecInput, Tier } from './schema.js';

/** What each tier of the guide means when the spec says nothing else. Plain data, merged under the spec file. */
export const TIER_PRESETS: Record<Tier, SpecInput> = {
  'single-server': {
    platform: 'compose',
    app: { replicas: 2 },
    database: { ha: 'none' },
    storage: { kind: 'local' },
  },
  // Patroni (automatic failover, 3 members, 3 etcd) and a replicated GlusterFS volume over 3 servers:
  // no single server whose loss stops the service. streaming and nfs stay selectable; plan says what they cost.
  'multi-server': {
    platform: 'swarm',
    app: { replicas: 3 },
    database: { ha: 'patroni', replicas: 2 },
    storage: { kind: 'glusterfs' },
    monitoring: { enabled: true },
  },
  'multi-region': {
    platform: 'swarm',
    app: { replicas: 3 },
    database: { ha: 'patroni', replicas: 2 },
    // One MinIO per region was a single point of failure in each region; uploads stay per region (plan warns).
    storage: { kind: 'glusterfs' },
    monitoring: { enabled: true },
    regions: [
      { name: 'us-east', primary: true },
      { name: 'eu-west', primary: false },
    ],
  },
};

/** One line per tier for the wizard and `plan`: the guide's availability figures. */
export const TIER_SUMMARY: Record<Tier, { availability: string; downtime: string; survives: string }> = {
  'single-server': { availability: '99%', downtime: '~3.6 days/year', survives: 'an app instance crashing or being replaced' },
  'multi-server': { availability: '99.9%', downtime: '~8.7 hours/year', survives: 'losing any one server, including the database primary' },
  'multi-region': { availability: '99.99%', downtime: '~52 minutes/year', survives: 'losing a whole data center or region' },
};
