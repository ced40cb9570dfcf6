import type { Spec } from '../spec/schema.js';
import { acmePaths, haproxyFilesPem } from './lb-model.js';

export { MOZILLA_GUIDELINE, TLS12_CIPHERS, TLS13_SUITES, GO_CIPHERS, HSTS } from './tls-profile.js';

// ---- certificates for nginx and HAProxy (Caddy manages its own) -----------------------------------

/** The helper script on the LB host (platform hosts) and its systemd units. */
export { tlsScriptPath, acmeUnitName } from '../model/constants.js';
import { tlsScriptPath } from '../model/constants.js';
import { sandbox } from './systemd/index.js';

export { needsTlsScript } from './lb/index.js';
import { loadBalancerOf, needsTlsScript } from './lb/index.js';

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
  // The helper's form follows the LB: one PEM (HAProxy) or certificate + key files served from a webroot (nginx).
  const haproxy = loadBalancerOf(spec).tlsHelper?.singlePem ?? false;
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
        // certbot writes its own folders and the LB's certificate, then reloads the LB (systemctl).
        ...sandbox({
          system: 'full',
          caps: ['CAP_DAC_OVERRIDE', 'CAP_CHOWN', 'CAP_FOWNER'],
          writable: ['-/etc/letsencrypt', '-/var/lib/letsencrypt', '-/var/log/letsencrypt', '-/var/www/certbot', '-/etc/nginx/tls', '-/etc/haproxy/certs'],
          wx: false,
        }),
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
  /** run: the LB's shell command (sh -c) when TLS needs one around its start; user, volumes, dependsOn: merged into the LB service. */
  lb: { run?: string; user?: string; volumes: string[]; dependsOn: Record<string, { condition: string }> };
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
  const lb = loadBalancerOf(spec);
  if (lb.containerUser) out.lb.user = lb.containerUser;
  const helper = lb.tlsHelper;
  if (!needsTlsScript(spec) || !helper) return out;
  const scriptPath = `tls/${spec.name}-tls`;
  out.script = { path: scriptPath, contents: renderTlsScript(spec, headerText, { reload: ': the load balancer reloads itself when the file changes, see its command', certbotListen: '0.0.0.0' }) };
  const mount = `./${scriptPath}:${SCRIPT_IN_CONTAINER}:ro`;
  const start = lb.container.start(configFile);
  out.lb.volumes.push(mount);
  if (tls === 'files') {
    out.lb.run = `/bin/sh ${SCRIPT_IN_CONTAINER} combine && ${start}`;
    return out;
  }
  const p = acmePaths(spec.domain ?? 'localhost');
  const certDir = helper.certDir(spec.domain ?? 'localhost');
  const watched = helper.watched(p);
  const reload = lb.container.reload(configFile);
  out.lb.run = `touch /tmp/tls-seen; (while sleep 60; do if [ ${watched} -nt /tmp/tls-seen ]; then touch /tmp/tls-seen; ${reload}; fi; done) & ${start}`;
  out.lb.volumes.push(`lb-tls:${certDir}`);
  if (helper.webroot) out.lb.volumes.push(`certbot-webroot:${p.webroot}:ro`);
  out.lb.dependsOn['tls-init'] = { condition: 'service_completed_successfully' };
  const common = { image: CERTBOT_IMAGE, security_opt: ['no-new-privileges:true'] };
  out.services['tls-init'] = { ...common, entrypoint: ['/bin/sh', SCRIPT_IN_CONTAINER, 'placeholder'], volumes: [`lb-tls:${certDir}`, mount], restart: 'no', network_mode: 'none' };
  out.services.certbot = {
    ...common,
    // Obtains the first certificate, then renews when due (certbot keeps it until 30 days before expiry).
    entrypoint: ['/bin/sh', '-c', `trap exit TERM; while :; do /bin/sh ${SCRIPT_IN_CONTAINER} obtain || echo 'no certificate yet: retrying in 12h'; sleep 12h & wait $$!; done`],
    volumes: ['letsencrypt:/etc/letsencrypt', `lb-tls:${certDir}`, mount, ...(helper.webroot ? [`certbot-webroot:${p.webroot}`] : [])],
    restart: 'unless-stopped',
    networks: ['edge'],
  };
  out.volumes = { letsencrypt: {}, 'lb-tls': {}, ...(helper.webroot ? { 'certbot-webroot': {} } : {}) };
  return out;
}
