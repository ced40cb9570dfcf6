import type { Spec } from '../spec/schema.js';
import { acmePaths, haproxyFilesPem } from './lb-model.js';

/**
 * Mozilla Server Side TLS "intermediate" profile, guidelines v6.0 (TLS 1.2 + 1.3, ECDHE with AES-GCM
 * and ChaCha20; DHE suites dropped so no dhparam file is needed). One source for all three proxies.
 */
export const MOZILLA_GUIDELINE = 'Mozilla intermediate, guidelines v6.0 (https://ssl-config.mozilla.org/)';
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];
export const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
/** Go (Caddy) names of the same TLS 1.2 suites; TLS 1.3 suites are not configurable in Go. */
export const GO_CIPHERS = [
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
];
export const HSTS = 'max-age=63072000';

// ---- certificates for nginx and HAProxy (Caddy manages its own) -----------------------------------

/** The helper script on the LB host (platform hosts) and its systemd units. */
export const tlsScriptPath = (name: string) => `/usr/local/sbin/${name}-tls`;
export const acmeUnitName = (name: string) => `${name}-acme`;

/** Whether the LB needs the helper script: acme (nginx, HAProxy) or HAProxy with tls: files. */
export function needsTlsScript(spec: Spec): boolean {
  const { kind, tls } = spec.loadBalancer;
  return (tls === 'acme' && kind !== 'caddy') || (tls === 'files' && kind === 'haproxy');
}

/**
 * The LB host's TLS helper (POSIX sh): `placeholder` (ExecStartPre: a 2-day self-signed certificate
 * so the LB starts before the first real one), `obtain` (certbot: first certificate, then renewals
 * when due), `deploy` (certbot's deploy hook: install the new certificate, reload the LB) and
 * `combine` (HAProxy with tls: files: certificate + key into the one PEM HAProxy reads).
 */
export function renderTlsScript(spec: Spec, headerText: string, opts: { reload: string; certbotBin?: string; certbotListen?: string } = { reload: '' }): string {
  const { kind, tls, acmeEmail } = spec.loadBalancer;
  const domain = spec.domain ?? 'localhost';
  const p = acmePaths(domain);
  const haproxy = kind === 'haproxy';
  const certbot = opts.certbotBin ?? 'certbot';
  const L: string[] = ['#!/bin/sh', headerText.trimEnd()];
  L.push(
    `# TLS for the ${kind} load balancer (tls: ${tls}). Usage: ${tlsScriptPath(spec.name).split('/').pop()} placeholder|obtain|deploy|combine`,
    'set -eu',
    'umask 077',
    '',
    tls === 'acme' ? `domain='${domain}'` : '',
    haproxy ? `pem='${tls === 'acme' ? p.combined : haproxyFilesPem(spec.name)}'` : `cert='${p.cert}'`,
    haproxy ? '' : `key='${p.key}'`,
    '',
    '# Writes a file next to its target, then renames it: the LB never reads a half-written PEM.',
    'install_file() {',
    '  mkdir -p "$(dirname "$2")"',
    '  cat "$1" > "$2.tmp"',
    '  mv -f "$2.tmp" "$2"',
    '}',
    '',
    'case "${1:-}" in',
  );
  if (tls === 'acme') {
    const target = haproxy ? '"$pem"' : '"$cert"';
    L.push(
      '  placeholder)',
      `    [ -s ${target} ] && exit 0`,
      '    tmp="$(mktemp -d)"',
      '    trap \'rm -rf "$tmp"\' EXIT',
      '    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \\',
      '      -subj "/CN=$domain" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null',
      ...(haproxy
        ? ['    cat "$tmp/cert.pem" "$tmp/key.pem" > "$tmp/both.pem"', '    install_file "$tmp/both.pem" "$pem"']
        : ['    install_file "$tmp/key.pem" "$key"', '    install_file "$tmp/cert.pem" "$cert"']),
      '    echo "installed a self-signed placeholder for $domain until certbot obtains the real certificate"',
      '    ;;',
      '  obtain)',
      // nginx serves the challenge files itself; HAProxy forwards the challenge path to certbot's own server.
      ...(haproxy ? [] : [`    mkdir -p '${p.webroot}'`]),
      `    exec ${certbot} certonly --non-interactive --agree-tos ${acmeEmail ? `--email '${acmeEmail}'` : '--register-unsafely-without-email'} \\`,
      `      --keep-until-expiring --cert-name "$domain" -d "$domain" \\`,
      haproxy
        ? `      --standalone --http-01-address ${opts.certbotListen ?? '127.0.0.1'} --http-01-port ${p.certbotPort} \\`
        : `      --webroot -w '${p.webroot}' \\`,
      `      --deploy-hook '${tlsScriptPath(spec.name)} deploy'`,
      '    ;;',
      '  deploy)',
      `    src="\${RENEWED_LINEAGE:-/etc/letsencrypt/live/$domain}"`,
      ...(haproxy
        ? ['    tmp="$(mktemp)"', '    trap \'rm -f "$tmp"\' EXIT', '    cat "$src/fullchain.pem" "$src/privkey.pem" > "$tmp"', '    install_file "$tmp" "$pem"']
        : ['    install_file "$src/privkey.pem" "$key"', '    install_file "$src/fullchain.pem" "$cert"']),
      `    ${opts.reload}`,
      '    ;;',
    );
  }
  if (tls === 'files' && haproxy) {
    L.push(
      '  combine)',
      '    tmp="$(mktemp)"',
      '    trap \'rm -f "$tmp"\' EXIT',
      `    cat '${spec.loadBalancer.certFile}' '${spec.loadBalancer.keyFile}' > "$tmp"`,
      '    install_file "$tmp" "$pem"',
      '    ;;',
    );
  }
  L.push('  *)', '    echo "usage: $0 placeholder|obtain|deploy|combine" >&2', '    exit 2', '    ;;', 'esac', '');
  return L.filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n');
}

/** Renewal on platform hosts: a oneshot service running `<name>-tls obtain` and its twice-daily timer. */
export function acmeUnits(spec: Spec) {
  const kind = spec.loadBalancer.kind;
  return {
    service: {
      Unit: [
        ['Description', `Obtain or renew the TLS certificate of ${spec.domain} for ${kind} (ha-gen)`],
        ['After', `network-online.target ${kind}.service`],
        ['Wants', 'network-online.target'],
      ] as Array<[string, string]>,
      Service: [
        ['Type', 'oneshot'],
        // certbot renews only within 30 days of expiry; the deploy hook reloads the LB.
        ['ExecStart', `${tlsScriptPath(spec.name)} obtain`],
      ] as Array<[string, string]>,
    },
    timer: {
      Unit: [['Description', `Twice-daily certificate check for ${spec.domain} (ha-gen)`]] as Array<[string, string]>,
      Timer: [
        ['OnCalendar', '*-*-* 00,12:00:00'],
        ['RandomizedDelaySec', '1h'],
        ['Persistent', 'true'],
      ] as Array<[string, string]>,
      Install: [['WantedBy', 'timers.target']] as Array<[string, string]>,
    },
  };
}

// ---- containers (compose): certbot as a service next to the load balancer ---------------------------

/** Pinned like the other images: upgrade deliberately. */
export const CERTBOT_IMAGE = 'certbot/certbot:v2.11.0';
/** Where the TLS helper is mounted in the containers. */
const SCRIPT_IN_CONTAINER = '/ha-gen/tls';

export interface ContainerTls {
  /** The helper script, written to the bundle at this path (mounted read-only). */
  script?: { path: string; contents: string };
  /** Merged into the LB service. */
  lb: { command?: string[]; user?: string; volumes: string[]; dependsOn: Record<string, { condition: string }> };
  services: Record<string, unknown>;
  volumes: Record<string, unknown>;
}

/**
 * compose: tls: acme for nginx/HAProxy adds `tls-init` (a placeholder certificate, once, before the
 * LB starts) and `certbot` (obtains, then checks twice a day). certbot cannot signal another container,
 * so the LB's own command reloads it within a minute of a new certificate file. HAProxy with tls: files
 * builds its one PEM from the two mounted files at start.
 */
export function containerTls(spec: Spec, headerText: string, configFile: string): ContainerTls {
  const { kind, tls } = spec.loadBalancer;
  const out: ContainerTls = { lb: { volumes: [], dependsOn: {} }, services: {}, volumes: {} };
  // The haproxy image runs as an unprivileged user that can bind neither port 80 nor read a 0600 key:
  // start as root, HAProxy drops to its own user (global user/group) once ports and certificates are open.
  if (kind === 'haproxy') out.lb.user = 'root';
  if (!needsTlsScript(spec)) return out;
  const scriptPath = `tls/${spec.name}-tls`;
  out.script = { path: scriptPath, contents: renderTlsScript(spec, headerText, { reload: ': the load balancer reloads itself when the file changes, see its command', certbotListen: '0.0.0.0' }) };
  const mount = `./${scriptPath}:${SCRIPT_IN_CONTAINER}:ro`;
  const start = kind === 'nginx' ? 'exec nginx -g "daemon off;"' : `exec haproxy -W -db -f ${configFile}`;
  out.lb.volumes.push(mount);
  if (tls === 'files') {
    out.lb.command = ['/bin/sh', '-c', `/bin/sh ${SCRIPT_IN_CONTAINER} combine && ${start}`];
    return out;
  }
  const p = acmePaths(spec.domain ?? 'localhost');
  const certDir = kind === 'nginx' ? `/etc/nginx/tls/${spec.domain}` : '/etc/haproxy/certs';
  const watched = kind === 'nginx' ? p.cert : p.combined;
  const reload = kind === 'nginx' ? 'nginx -s reload' : 'kill -USR2 1';
  out.lb.command = ['/bin/sh', '-c', `touch /tmp/tls-seen; (while sleep 60; do if [ ${watched} -nt /tmp/tls-seen ]; then touch /tmp/tls-seen; ${reload}; fi; done) & ${start}`];
  out.lb.volumes.push(`lb-tls:${certDir}`);
  if (kind === 'nginx') out.lb.volumes.push(`certbot-webroot:${p.webroot}:ro`);
  out.lb.dependsOn['tls-init'] = { condition: 'service_completed_successfully' };
  const common = { image: CERTBOT_IMAGE, security_opt: ['no-new-privileges:true'] };
  out.services['tls-init'] = { ...common, entrypoint: ['/bin/sh', SCRIPT_IN_CONTAINER, 'placeholder'], volumes: [`lb-tls:${certDir}`, mount], restart: 'no', network_mode: 'none' };
  out.services.certbot = {
    ...common,
    // Obtains the first certificate, then renews when due (certbot keeps it until 30 days before expiry).
    entrypoint: ['/bin/sh', '-c', `trap exit TERM; while :; do /bin/sh ${SCRIPT_IN_CONTAINER} obtain || echo 'no certificate yet: retrying in 12h'; sleep 12h & wait $$!; done`],
    volumes: ['letsencrypt:/etc/letsencrypt', `lb-tls:${certDir}`, mount, ...(kind === 'nginx' ? [`certbot-webroot:${p.webroot}`] : [])],
    restart: 'unless-stopped',
    networks: ['edge'],
  };
  out.volumes = { letsencrypt: {}, 'lb-tls': {}, ...(kind === 'nginx' ? { 'certbot-webroot': {} } : {}) };
  return out;
}
