/** etcd members for Patroni's DCS: one config file per member, started by `etcd --config-file`. */
import type { Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import { renderTemplate } from '../../render/templates.js';
import etcdAuthSource from '../../../templates/etcd/etcd-auth.sh.hbs?raw';
import { commentedYaml } from '../../render/yaml.js';
import { dcsKind, ETCD_CLIENT_PORT, ETCD_PEER_PORT } from '../patroni/index.js';
import { ETCD_METRICS_PORT } from '../../model/constants.js';

export interface EtcdMember {
  name: string;
  /** Address the other members and Patroni reach it at. */
  address: string;
  /** Bind address: an IP (etcd refuses host names for listen URLs), or 0.0.0.0. */
  listen: string;
}

/** The one-shot step that turns on etcd's users and roles (hosts: deploy.sh runs it after etcd starts). */
export const etcdAuthScriptName = (spec: Pick<Spec, 'name'>) => `/usr/local/sbin/${spec.name}-etcd-auth`;


/** The member's certificate, its key and the CA that signed every member's and client's (targets/pki.ts). */
export interface EtcdTls {
  cert: string;
  key: string;
  ca: string;
}

export function etcdConfig(spec: Spec, me: EtcdMember, members: EtcdMember[], dataDir: string, tls?: EtcdTls): Record<string, unknown> {
  const v2 = dcsKind(spec) === 'etcd';
  const s = tls ? 'https' : 'http';
  const listenClient = [`${s}://${me.listen}:${ETCD_CLIENT_PORT}`];
  // client-cert-auth: a client (peer) without a certificate of this CA is refused at the handshake.
  const security = tls ? { 'cert-file': tls.cert, 'key-file': tls.key, 'client-cert-auth': true, 'trusted-ca-file': tls.ca } : null;
  return {
    name: me.name,
    'data-dir': dataDir,
    'listen-peer-urls': `${s}://${me.listen}:${ETCD_PEER_PORT}`,
    'listen-client-urls': listenClient.join(','),
    // With TLS, Prometheus scrapes a plain read-only /metrics and /health here, not the client port.
    ...(tls ? { 'listen-metrics-urls': `http://${me.listen}:${ETCD_METRICS_PORT}` } : {}),
    'initial-advertise-peer-urls': `${s}://${me.address}:${ETCD_PEER_PORT}`,
    'advertise-client-urls': `${s}://${me.address}:${ETCD_CLIENT_PORT}`,
    'initial-cluster': members.map((m) => `${m.name}=${s}://${m.address}:${ETCD_PEER_PORT}`).join(','),
    'initial-cluster-token': `${spec.name}-etcd`,
    'initial-cluster-state': 'new',
    'heartbeat-interval': 100,
    'election-timeout': 1000,
    'pre-vote': true,
    'auto-compaction-mode': 'periodic',
    'auto-compaction-retention': '1',
    ...(v2 ? { 'enable-v2': true } : { 'enable-grpc-gateway': true }),
    ...(security ? { 'client-transport-security': security, 'peer-transport-security': security } : {}),
  };
}

export function renderEtcdConfig(spec: Spec, ctx: RenderContext, me: EtcdMember, members: EtcdMember[], dataDir: string, tls?: EtcdTls): string {
  const v2 = dcsKind(spec) === 'etcd';
  return commentedYaml(
    etcdConfig(spec, me, members, dataDir, tls),
    ctx,
    `etcd member ${me.name} of ${members.length}: Patroni's leader lock lives here. ${members.length >= 3 ? 'A majority must be up.' : 'A single member is a single point of failure: use 3.'}\n${tls ? `TLS between members and to every client, each with a certificate of the bundle's CA (pki/ca.crt); users and roles: ${etcdAuthScriptName(spec)}.` : `Plain HTTP: keep ports ${ETCD_CLIENT_PORT}/${ETCD_PEER_PORT} on the private network only.`}`,
    [
      ...(tls
        ? ([
            [['client-transport-security'], 'Clients need a certificate of the bundle\'s CA (client-cert-auth) and then a user: only Patroni\'s `patroni` user may write, and only below its cluster\'s keys.'],
            [['peer-transport-security'], 'Members prove who they are to each other with their certificates (SANs: name and address).'],
          ] as Array<[string[], string]>)
        : []),
      [
        [v2 ? 'enable-v2' : 'enable-grpc-gateway'],
        v2
          ? `Patroni ${spec.database.patroniVersion} uses the v2 API (its etcd3 backend before 3.0.3 lets a resumed hung leader overwrite the leader key).`
          : 'Patroni\'s etcd3 backend talks to the v3 API over the gRPC gateway (HTTP/JSON).',
      ],
      [['initial-cluster-state'], 'new: first start of the cluster. A member replacing a lost one joins with `etcdctl member add` and state existing.'],
      [
        ['pre-vote'],
        'A member cut off from the others (partitioned, or frozen) keeps calling elections with ever higher terms; without pre-vote (etcd 3.4 default: off) its first answer after rejoining makes the healthy leader step down, etcd has no leader for seconds, and Patroni\'s primary, unable to renew its key, demotes itself: a second outage right after the network heals (measured in the whole-host lab). With pre-vote it must win a trial election first, which it cannot while the others still hear their leader.',
      ],
    ],
  );
}

/** Patroni's keys in etcd: `namespace` + scope (patroni.yml). Its etcd role may touch nothing else. */
export const patroniKeyPrefix = (spec: Pick<Spec, 'name'>) => `/service/${spec.name}/`;

/** The etcd-auth step of one etcd host (see templates/etcd/etcd-auth.sh.hbs). */
/**
 * envFile: where the passwords are read from as data (hosts); without it (a one-shot container) they
 * come from the environment, and no majority yet is a failure to retry rather than a later host's job.
 */
export function renderEtcdAuthScript(spec: Spec, ctx: RenderContext, o: { address: string; envFile?: string; swarm?: boolean; tls: EtcdTls; patroniPasswordVar: string }): string {
  const prefix = patroniKeyPrefix(spec);
  // v2 matches "<prefix>*" by prefix; the folder itself (no trailing /) is granted too, for a plain read of it.
  const perms = [prefix.slice(0, -1), `${prefix}*`];
  return renderTemplate(etcdAuthSource, {
    header: header(ctx).trimEnd(),
    scope: spec.name,
    prefix,
    address: o.address,
    port: ETCD_CLIENT_PORT,
    envFile: o.envFile ?? '',
    swarm: o.swarm ?? false,
    waitSeconds: o.envFile ? 10 : 30,
    tls: o.tls,
    patroniPasswordVar: o.patroniPasswordVar,
    v2: dcsKind(spec) === 'etcd',
    roleBody: JSON.stringify({ role: 'patroni', permissions: { kv: { read: perms, write: perms } } }),
  });
}
