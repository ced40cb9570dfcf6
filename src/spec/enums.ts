/**
 * The plain values of the spec: its version, the value forms (regular expressions with the words
 * errors use) and the enums. No zod here, so modules that only need these (the command line's
 * --tier/--lb choices, targets, plan) do not load zod; schema.ts builds the zod schema from them
 * and re-exports them.
 */
export const SPEC_VERSION = 1;

// ---- value forms -------------------------------------------------------------------------------
const label = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const ipv4Octet = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const ipv4 = `${ipv4Octet}(?:\\.${ipv4Octet}){3}`;

export const FORMS = {
  name: { re: /^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$/, text: 'lowercase letters, digits and "-", starting with a letter, at most 32 characters (e.g. home-registry)' },
  hostName: { re: new RegExp(`^${label}$`), text: 'a DNS label: lowercase letters, digits and "-", at most 63 characters (e.g. db1)' },
  fqdn: { re: new RegExp(`^(?=.{1,253}$)(?:${label}\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`), text: 'a lowercase fully qualified domain name (e.g. registry.example.com)' },
  ipv4: { re: new RegExp(`^${ipv4}$`), text: 'an IPv4 address (e.g. 10.0.1.10)' },
  // A name may not be all digits and dots: 10.0.1.300 is a mistyped address, not a host name.
  address: { re: new RegExp(`^(?:${ipv4}|(?![0-9.]+$)(?=.{1,253}$)${label}(?:\\.${label})*)$`), text: 'an IPv4 address or a lowercase DNS name (e.g. 10.0.1.10 or db1.internal; IPv6 is not supported yet)' },
  cidr: { re: new RegExp(`^${ipv4}/(?:3[0-2]|[12]?[0-9])$`), text: 'an IPv4 CIDR (e.g. 10.0.0.0/16)' },
  image: {
    // Docker's reference grammar, lowercase repository, optional tag and digest.
    re: /^(?=.{1,255}$)[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\.[a-z0-9]+(?:-+[a-z0-9]+)*)*(?::[0-9]{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/,
    text: 'a container image reference (e.g. ghcr.io/victorytek/home-registry:1.2.0)',
  },
  urlPath: { re: /^\/[A-Za-z0-9._~\/-]{0,200}$/, text: 'a URL path starting with "/" made of letters, digits and ._~/- (e.g. /health)' },
  absPath: { re: /^\/(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._\/-]{0,255}$/, text: 'an absolute path of letters, digits and ._/- without "." or ".." segments (e.g. /etc/ssl/private/site.key)' },
  dbIdent: { re: /^[a-z_][a-z0-9_]{0,62}$/, text: 'a lowercase SQL identifier: letters, digits and "_", not starting with a digit (e.g. home_inventory)' },
  email: { re: /^[A-Za-z0-9._%+-]{1,64}@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, text: 'an e-mail address (e.g. ops@example.com)' },
  envName: { re: /^[A-Z][A-Z0-9_]{0,63}$/, text: 'an upper-case environment variable name (e.g. RUST_LOG)' },
  envValue: { re: /^[A-Za-z0-9._:\/@+=,-]{0,256}$/, text: 'letters, digits and ._:/@+=,- only (no spaces, quotes or $)' },
  size: { re: /^[1-9][0-9]{0,5}[kmg]$/, text: 'a size such as 50m, 512k or 2g' },
  // An alert webhook: http(s), a host name or IPv4, an optional port and path; no query, user info or spaces.
  webhookUrl: { re: new RegExp(`^https?://(?:${ipv4}|(?![0-9.]+$)${label}(?:\\.${label})*)(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?(?:/[A-Za-z0-9._~/-]{0,200})?$`), text: 'an http(s) URL of a host name or IPv4 address, an optional port and a path of letters, digits and ._~/- (no query string), e.g. https://alerts.example.com/hook' },
  interfaceName: { re: /^[a-z][a-z0-9_.-]{0,14}$/, text: 'a network interface name: lowercase letters, digits and _.-, at most 15 characters (e.g. eth0)' },
} as const;

export type FormName = keyof typeof FORMS;

// ---- enums ---------------------------------------------------------------------------------------
export const TIERS = ['single-server', 'multi-server', 'multi-region'] as const;
export const PLATFORMS = ['compose', 'swarm', 'hosts'] as const;
export const LB_KINDS = ['nginx', 'haproxy', 'caddy'] as const;
export const LB_POLICIES = ['least-conn', 'round-robin', 'ip-hash', 'random'] as const;
export const TLS_MODES = ['none', 'files', 'acme'] as const;
export const DB_HA = ['none', 'streaming', 'patroni'] as const;
export const STORAGE_KINDS = ['local', 'nfs', 's3', 'glusterfs'] as const;
export const ROLES = ['lb', 'app', 'db', 'etcd', 'storage'] as const;
export const HEALTHCHECK_TOOLS = ['curl', 'wget', 'none'] as const;
/** Where the database endpoint (HAProxy in front of Patroni) runs on platform hosts. */
export const DB_ENDPOINT_PLACEMENTS = ['app-hosts', 'lb-hosts'] as const;

export type Tier = (typeof TIERS)[number];
export type Platform = (typeof PLATFORMS)[number];
export type LbKind = (typeof LB_KINDS)[number];
export type Role = (typeof ROLES)[number];

export const BACKUP_REPOSITORIES = ['local', 's3'] as const;
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
