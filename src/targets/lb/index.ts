/**
 * The load balancers ha-gen can put in front of the app: one module per kind, one line each here.
 * A new load balancer is a folder (src/targets/<kind>/ and templates/<kind>/), a line here, its name
 * in LB_KINDS (spec/enums.ts) and a checker in validate/checkers.ts.
 */
import type { LbKind, Spec } from '../../spec/schema.js';
import { caddy } from '../caddy/index.js';
import { haproxy } from '../haproxy/index.js';
import { nginx } from '../nginx/index.js';
import type { LoadBalancer } from './types.js';

export type { LoadBalancer, LbContainer, LbRenderOptions, LbTlsHelper } from './types.js';

export const LOAD_BALANCERS: Record<LbKind, LoadBalancer> = { nginx, haproxy, caddy };

export const loadBalancerOf = (spec: Pick<Spec, 'loadBalancer'>): LoadBalancer => LOAD_BALANCERS[spec.loadBalancer.kind];

/** ha-gen's TLS helper script is needed: ACME by an LB that does not do it itself, or an LB that reads one PEM built from tls: files. */
export function needsTlsScript(spec: Pick<Spec, 'loadBalancer'>): boolean {
  const h = loadBalancerOf(spec).tlsHelper;
  const tls = spec.loadBalancer.tls;
  return !!h && (tls === 'acme' || (tls === 'files' && h.singlePem));
}

/**
 * compose blue-green: both colors' configs are mounted into the one LB container, and a symlink in its
 * own file system says which one it runs. A switch repoints the link and reloads the LB in place (no
 * container recreated, no gap). A restart keeps the link; a recreated container starts on blue again,
 * on purpose: plain `compose up` starts blue only (green has a profile), so a green link kept in a
 * volume would point the LB at containers that are not there.
 */
export function composeBlueGreen(lb: LoadBalancer) {
  const base = lb.container.file.split('/').pop()!;
  const greenName = base.replace(/(\.[a-z]+)?$/, '.green$1');
  const stateDir = '/var/lib/ha-gen-lb';
  return {
    /** In the bundle. */
    greenFile: `deploy/blue-green/${greenName}`,
    /** In the container. */
    blueMount: lb.container.mount,
    greenMount: `${lb.container.dir}/${greenName}`,
    stateDir,
    active: `${stateDir}/active-config`,
  };
}
