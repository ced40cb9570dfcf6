/** etcd members for Patroni's DCS: one config file per member, started by `etcd --config-file`. */
import type { Spec } from '../../spec/schema.js';
import type { RenderContext } from '../../render/context.js';
import { commentedYaml } from '../patroni/yaml.js';
import { dcsKind, ETCD_CLIENT_PORT, ETCD_PEER_PORT } from '../patroni/index.js';

export interface EtcdMember {
  name: string;
  /** Address the other members and Patroni reach it at. */
  address: string;
  /** Bind address: an IP (etcd refuses host names for listen URLs), or 0.0.0.0. */
  listen: string;
}

export const isIpv4 = (a: string) => /^[0-9]+(?:\.[0-9]+){3}$/.test(a);

export function etcdConfig(spec: Spec, me: EtcdMember, members: EtcdMember[], dataDir: string): Record<string, unknown> {
  const v2 = dcsKind(spec) === 'etcd';
  const listenClient = [`http://${me.listen}:${ETCD_CLIENT_PORT}`];
  return {
    name: me.name,
    'data-dir': dataDir,
    'listen-peer-urls': `http://${me.listen}:${ETCD_PEER_PORT}`,
    'listen-client-urls': listenClient.join(','),
    'initial-advertise-peer-urls': `http://${me.address}:${ETCD_PEER_PORT}`,
    'advertise-client-urls': `http://${me.address}:${ETCD_CLIENT_PORT}`,
    'initial-cluster': members.map((m) => `${m.name}=http://${m.address}:${ETCD_PEER_PORT}`).join(','),
    'initial-cluster-token': `${spec.name}-etcd`,
    'initial-cluster-state': 'new',
    'heartbeat-interval': 100,
    'election-timeout': 1000,
    'pre-vote': true,
    'auto-compaction-mode': 'periodic',
    'auto-compaction-retention': '1',
    ...(v2 ? { 'enable-v2': true } : { 'enable-grpc-gateway': true }),
  };
}

export function renderEtcdConfig(spec: Spec, ctx: RenderContext, me: EtcdMember, members: EtcdMember[], dataDir: string): string {
  const v2 = dcsKind(spec) === 'etcd';
  return commentedYaml(
    etcdConfig(spec, me, members, dataDir),
    ctx,
    `etcd member ${me.name} of ${members.length}: Patroni's leader lock lives here. ${members.length >= 3 ? 'A majority must be up.' : 'A single member is a single point of failure: use 3.'}\nPlain HTTP: keep ports ${ETCD_CLIENT_PORT}/${ETCD_PEER_PORT} on the private network only.`,
    [
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
