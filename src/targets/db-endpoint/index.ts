/** The database endpoint for Patroni: an HAProxy of its own (TCP), checking each member's REST API. */
import type { Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import { renderTemplate } from '../../render/templates.js';
import { envFilePath, sandbox, type Unit } from '../systemd/index.js';
import { PATRONI_REST_PORT as RESTAPI_PORT, DB_ENDPOINT_CONFIG, DB_ENDPOINT_UNIT } from '../../model/constants.js';

export { DB_ENDPOINT_CONFIG, DB_ENDPOINT_UNIT };
import source from '../../../templates/db-endpoint/haproxy-db.cfg.hbs?raw';


export function renderDbEndpoint(spec: Spec, ctx: RenderContext, o: { bind: string; statsBind: string; members: Array<{ name: string; host: string }>; docker?: boolean; caFile?: string }): string {
  const p = spec.database.endpointPorts;
  return renderTemplate(source, {
    header: header(ctx).trimEnd(),
    bind: o.bind,
    statsBind: o.statsBind,
    writePort: p.write,
    readPort: p.read,
    statsPort: p.stats,
    pgPort: spec.database.port,
    restPort: RESTAPI_PORT,
    members: o.members,
    // Patroni's REST API over TLS (platform hosts): the checks verify it against the bundle's CA.
    caFile: o.caFile ?? '',
    docker: o.docker ?? false,
  });
}

/** haproxy-db.service: a second HAProxy beside the app load balancer, so either can reload alone. */
export function dbEndpointUnit(spec: Spec): Unit {
  const p = spec.database.endpointPorts;
  const lowPort = Math.min(p.write, p.read, p.stats) < 1024;
  return {
    Unit: [
      ['Description', `HAProxy database endpoint for ${spec.name} (ha-gen): writes to the Patroni leader`],
      ['After', 'network-online.target'],
      ['Wants', 'network-online.target'],
    ],
    Service: [
      ['Type', 'notify'],
      // Its own user from the start (not root, unlike the front door's HAProxy): it binds only
      // unprivileged ports and reads no key; systemd tracks its master (no PID file).
      ['User', 'haproxy'],
      ['Group', 'haproxy'],
      ...(lowPort ? ([['AmbientCapabilities', 'CAP_NET_BIND_SERVICE']] as Array<[string, string]>) : []),
      ['EnvironmentFile', envFilePath(spec.name, DB_ENDPOINT_UNIT)],
      ['ExecStartPre', `/usr/sbin/haproxy -c -q -f ${DB_ENDPOINT_CONFIG}`],
      ['ExecStart', `/usr/sbin/haproxy -Ws -f ${DB_ENDPOINT_CONFIG}`],
      ['ExecReload', '/bin/kill -USR2 $MAINPID'],
      ['KillMode', 'mixed'],
      ['Restart', 'always'],
      ['RestartSec', '1s'],
      ...sandbox({ system: 'strict', caps: lowPort ? ['CAP_NET_BIND_SERVICE'] : [] }),
    ],
    Install: [['WantedBy', 'multi-user.target']],
  };
}
