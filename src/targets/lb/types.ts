/** What every load balancer module provides (src/targets/<kind>/index.ts), registered in ./index.ts. */
import type { LbKind, Spec } from '../../spec/schema.js';
import type { LbModel } from '../lb-model.js';
import type { Unit } from '../systemd/index.js';

export interface LbRenderOptions {
  /** Where a stats page listens (the model's bind for the stats port). */
  statsBind: string;
  /** compose: where certbot's HTTP-01 listener is reached (HAProxy forwards the challenge to it). */
  certbotAddress?: string;
  /** Monitoring: the LB's metrics listener (HAProxy's exporter, Caddy's metrics, nginx's stub_status; allowFrom: who may read stub_status, default 127.0.0.1). */
  metrics?: { bind: string; port: number; allowFrom?: string };
}

/** ha-gen's TLS helper script (placeholder certificate, certbot hooks), for LBs that do not do ACME themselves. */
export interface LbTlsHelper {
  /** The LB reads certificate and key from one PEM (HAProxy): the helper builds it, also for tls: files. */
  singlePem: boolean;
  /** certbot answers the challenge from a webroot the LB serves (nginx), or its own listener the LB forwards to. */
  webroot: boolean;
  /** Folder of the installed certificate in the container (a volume the certbot service writes). */
  certDir(domain: string): string;
  /** The file whose change means a new certificate (the LB's command then reloads it: container.reload). */
  watched(paths: { cert: string; combined: string }): string;
}

/** The LB in its container (compose/swarm): where it reads its config, and shell commands run inside it. */
export interface LbContainer {
  /** The bundle's file and where the container reads it. */
  file: string;
  mount: string;
  dir: string;
  /** Foreground command (exec'd, so the LB is PID 1), given the config file it reads. */
  start(configFile: string): string;
  /** Graceful reload that rereads the config file the LB was started with; in-flight requests finish. */
  reload(configFile: string): string;
  /** Exits non-zero when the config file would not load. */
  test(configFile: string): string;
}

export interface LoadBalancer {
  kind: LbKind;
  /** One line for the wizard's choice. */
  summary: string;
  /** Official image, pinned by major version (compose/swarm). */
  image: string;
  /** Debian packages on an lb host (platform hosts). */
  packages: string[];
  /** A password-protected stats page on loadBalancer.statsPort (HAPROXY_STATS_PASSWORD). */
  statsPage: boolean;
  /** The official image runs unprivileged and cannot bind 80 or read a 0600 key: start as root, drop in the config. */
  containerUser?: string;
  /** Named volumes the LB container keeps state in (Caddy: certificates and its autosaved config). */
  containerVolumes: Record<string, string>;
  tlsHelper: LbTlsHelper | null;
  /** Debian's paths (hosts). */
  hosts: { config: string; dir: string };
  container: LbContainer;
  /** The complete configuration file for a model. */
  render(m: LbModel, header: string, o: LbRenderOptions): string;
  /** The systemd unit on an lb host: ExecStart runs Debian's binary in the foreground. */
  unit(spec: Spec): Unit;
  /** Tests `$config.next` before a blue-green switch or a drain on hosts (deploy scripts). */
  testCommand: string;
}
