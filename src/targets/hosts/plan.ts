/**
 * Platform hosts: what deploy.sh does on each host. Which services run where, their units,
 * packages and start order come from the deployment model; targets add only the steps their files
 * need (a unit's EnvironmentFile, commands before or after it starts), keyed by the model's service.
 */
import type { Host, Role, Spec } from '../../spec/schema.js';
import { deploymentOf, type Deployment } from '../../model/index.js';
import { endpointHostsOf } from '../../model/hosts.js';
import type { PkiInstall } from '../pki.js';

export interface EnvEntry {
  /** Variable name in the unit's EnvironmentFile. */
  name: string;
  /** Shell expression deploy.sh evaluates with .env loaded, e.g. "$JWT_SECRET" or a composed URL. */
  value: string;
}

export interface HostSteps {
  /** Secrets file the unit reads (EnvironmentFile=), written by deploy.sh with mode 0600. */
  envFile?: { path: string; entries: EnvEntry[]; raw?: boolean };
  /** Files of the bundle's pki/ folder deploy.sh copies onto the host (keys readable by their service only). */
  pki?: PkiInstall[];
  /** Commands deploy.sh runs on the host after copying the files, before starting units (idempotent). */
  before?: string[];
  /** Commands deploy.sh runs on the host after the service is up (idempotent). */
  after?: string[];
}

export interface HostsPlan {
  dep: Deployment;
  /** Prefix of this deployment's certificate names in pki/ (a region's name and a dot; '' otherwise). */
  certPrefix: string;
  /** host name -> service id -> steps, in the order targets added them. */
  steps: Map<string, Map<string, HostSteps[]>>;
}

export function newHostsPlan(spec: Spec, certPrefix = ''): HostsPlan {
  return { dep: deploymentOf(spec), certPrefix, steps: new Map(spec.hosts.map((h) => [h.name, new Map()])) };
}

/** Steps for a service the model places on `host`; a service the model does not have there is a bug. */
export function addSteps(plan: HostsPlan, host: Host, serviceId: string, steps: HostSteps): void {
  const h = plan.dep.hosts.find((x) => x.name === host.name);
  if (!h?.services.some((s) => s.id === serviceId)) throw new Error(`internal: the model has no service ${serviceId} on host ${host.name}`);
  const m = plan.steps.get(host.name)!;
  if (!m.has(serviceId)) m.set(serviceId, []);
  m.get(serviceId)!.push(steps);
}

export const hostFile = (host: Host, absPath: string) => `hosts/${host.name}${absPath}`;

/** pg_hba / allow-list form of an inventory address: a /32 for IPv4, the name otherwise. */
export const hostCidr = (address: string) => (/^[0-9.]+$/.test(address) ? `${address}/32` : address);

/** The inventory's hosts per role, in the model's order. */
export function topology(spec: Spec): Record<Role, Host[]> & { endpoint: Host[] } {
  const dep = deploymentOf(spec);
  const byName = new Map(spec.hosts.map((h) => [h.name, h]));
  const of = (names: string[]) => names.map((n) => byName.get(n)!);
  return { lb: of(dep.members.lb), app: of(dep.members.app), db: of(dep.members.db), etcd: of(dep.members.etcd), storage: of(dep.members.storage), endpoint: of(endpointHostsOf(dep)) };
}
