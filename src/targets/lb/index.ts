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

export type { LoadBalancer, LbRenderOptions, LbTlsHelper } from './types.js';

export const LOAD_BALANCERS: Record<LbKind, LoadBalancer> = { nginx, haproxy, caddy };

export const loadBalancerOf = (spec: Pick<Spec, 'loadBalancer'>): LoadBalancer => LOAD_BALANCERS[spec.loadBalancer.kind];

/** ha-gen's TLS helper script is needed: ACME by an LB that does not do it itself, or an LB that reads one PEM built from tls: files. */
export function needsTlsScript(spec: Pick<Spec, 'loadBalancer'>): boolean {
  const h = loadBalancerOf(spec).tlsHelper;
  const tls = spec.loadBalancer.tls;
  return !!h && (tls === 'acme' || (tls === 'files' && h.singlePem));
}
