/**
 * The deployment as the operator's scripts see it (RUNBOOK.md, smoke.sh, chaos scripts, README):
 * the names to type and the addresses to reach, read from the model.
 */
import type { Spec } from '../spec/schema.js';
import { deploymentOf } from './index.js';
import { dbMemberNames, etcdMembers } from './containers.js';
import type { Deployment } from './types.js';

export interface Member {
  /** The name an operator types (swarm: `<stack>_<service>`). */
  name: string;
  /** Where a script reaches it: an address on hosts, a service name in containers. */
  address: string;
  host: string;
}

export interface ScriptView {
  platform: Spec['platform'];
  name: string;
  lbService: string;
  /** Where clients reach the front door: the floating address(es), then every lb host (smoke.sh checks each). */
  lbAddresses: string[];
  /** The lb hosts themselves (where an operator logs in). */
  lbHosts: Member[];
  appService: string;
  apps: Member[];
  dbService: string;
  db: Member[];
  etcd: Member[];
  /** Every distinct database endpoint the apps connect to (host:port of their DATABASE_URL). */
  dbEndpoints: Array<{ host: string; port: number }>;
  backupService: string;
}

export function scriptView(spec: Spec, dep: Deployment = deploymentOf(spec)): ScriptView {
  const endpoints = new Map<string, { host: string; port: number }>();
  for (const e of Object.values(dep.dbWrite)) endpoints.set(`${e.address}:${e.port}`, { host: e.address, port: e.port });
  const base = { platform: spec.platform, name: spec.name, lbService: dep.names.lb, appService: dep.names.app, dbService: dep.names.db, backupService: dep.names.backup, dbEndpoints: [...endpoints.values()] };
  if (spec.platform === 'hosts') {
    const member = (n: string): Member => {
      const h = dep.hosts.find((x) => x.name === n)!;
      return { name: h.name, address: h.address, host: h.name };
    };
    const lbHosts = dep.members.lb.map(member);
    return { ...base, lbAddresses: [...new Set([...dep.front.map((f) => f.address), ...lbHosts.map((h) => h.address)])], lbHosts, apps: dep.members.app.map(member), db: dep.members.db.map(member), etcd: dep.members.etcd.map(member) };
  }
  const swarm = spec.platform === 'swarm';
  const prefix = swarm ? `${spec.name}_` : '';
  const apps = Array.from({ length: spec.app.replicas }, (_, i) => (swarm ? `${prefix}app.${i + 1}` : `app${i + 1}`));
  return {
    ...base,
    lbAddresses: ['localhost'],
    lbHosts: [],
    apps: apps.map((n) => ({ name: n, address: n, host: n })),
    db: dbMemberNames(spec).map((m) => ({ name: `${prefix}${m}`, address: m, host: m })),
    etcd: spec.database.ha === 'patroni' ? etcdMembers(spec).map((e) => ({ name: `${prefix}${e}`, address: e, host: e })) : [],
  };
}
