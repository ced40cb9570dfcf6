import type { SecretDef } from '../render/bundle.js';

/** .env names: the variables the consuming programs read themselves (contract: "The bundle"). */
export const SECRETS = {
  jwt: { name: 'JWT_SECRET', help: 'Signs the app\'s JWT tokens; identical on every app instance.' },
  pgSuper: { name: 'POSTGRES_PASSWORD', help: 'PostgreSQL superuser (postgres) password; read by the official postgres image.' },
  appDb: { name: 'APP_DB_PASSWORD', help: 'Password of the app\'s own database role (not a superuser).' },
  replication: { name: 'REPLICATION_PASSWORD', help: 'Password of the streaming-replication role (replicator).' },
  haproxyStats: { name: 'HAPROXY_STATS_PASSWORD', help: 'HAProxy stats page password (user admin).' },
} satisfies Record<string, SecretDef>;

/** Compose interpolation that fails loudly when .env lacks the name. */
export const composeVar = (name: string) => `\${${name}:?${name} is not set: keep the bundle's .env next to this file}`;
