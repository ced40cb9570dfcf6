/** .env names of the database roles: the variables Patroni and our scripts read themselves. */
import type { SecretDef } from '../../render/bundle.js';

export const REPLICATION_USER = 'replicator';
export const REWIND_USER = 'rewind_user';
export const RESTAPI_USER = 'patroni';

export const PATRONI_SECRETS = {
  superUser: { name: 'PATRONI_SUPERUSER_USERNAME', help: 'PostgreSQL superuser Patroni connects as (read by Patroni).', value: 'postgres' },
  superPassword: { name: 'PATRONI_SUPERUSER_PASSWORD', help: 'Password of that superuser (read by Patroni).' },
  replUser: { name: 'PATRONI_REPLICATION_USERNAME', help: 'Replication role Patroni creates and standbys connect as.', value: REPLICATION_USER },
  replPassword: { name: 'PATRONI_REPLICATION_PASSWORD', help: 'Password of the replication role (read by Patroni).' },
  rewindUser: { name: 'PATRONI_REWIND_USERNAME', help: 'Role pg_rewind connects as when an old primary rejoins (Patroni 3.0.2 requires one).', value: REWIND_USER },
  rewindPassword: { name: 'PATRONI_REWIND_PASSWORD', help: 'Password of the pg_rewind role (read by Patroni).' },
  restUser: { name: 'PATRONI_RESTAPI_USERNAME', help: 'User of Patroni\'s REST API for changes (switchover, restart); reads stay open for health checks.', value: RESTAPI_USER },
  restPassword: { name: 'PATRONI_RESTAPI_PASSWORD', help: 'Password of Patroni\'s REST API (read by Patroni and patronictl).' },
} satisfies Record<string, SecretDef>;
