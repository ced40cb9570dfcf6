/** The app on platform hosts: its container image run by a systemd unit (also the blue-green template unit). */
import type { Host, Spec } from '../../spec/schema.js';
import { envFilePath, sandbox } from '../systemd/index.js';
import { greenPort, unitNames, uploadsDir } from '../../model/constants.js';

export const appUnitName = (spec: Spec) => unitNames(spec).app;
export const greenUnitName = (spec: Spec) => unitNames(spec).appGreen;
export { greenPort };

export interface AppUnitOptions {
  unit: string;
  hostPort: number;
  mounted: boolean;
  /** The address to publish on, when not the host's own (the green template unit's `%i`). */
  bind?: string;
}

/** The app's unit on a host: its container image, with the image as a variable so a rolling update can pin another one (drop-in). */
export function appUnit(spec: Spec, app: Host | null, o: AppUnitOptions) {
  const envPath = envFilePath(spec.name, 'app');
  const dockerArgs = [
    '/usr/bin/docker run --rm',
    `--name ${o.unit}`,
    `--env-file ${envPath}`,
    `-p ${o.bind ?? app!.address}:${o.hostPort}:${spec.app.port}`,
    ...(spec.storage.kind === 's3' ? [] : [`-v ${uploadsDir(spec)}:${spec.app.uploadsPath}`]),
    `-v /var/lib/${spec.name}/${o.unit}:${spec.app.dataPath}`,
    // database.tls: the CA DATABASE_URL's sslrootcert names, at the same path inside (--mount fails when it is missing).
    ...(spec.database.tls ? [`--mount type=bind,src=${spec.database.caFile},dst=${spec.database.caFile},readonly`] : []),
    `--stop-timeout ${spec.app.stopGracePeriod}`,
    '--security-opt no-new-privileges:true',
    '${APP_IMAGE}',
  ];
  return {
    Unit: [
      ['Description', `${spec.name} app instance (ha-gen)`],
      ['After', 'network-online.target docker.service'],
      ['Requires', 'docker.service'],
      // Never start on an empty local folder while the shared uploads are not mounted.
      ...(o.mounted ? [['RequiresMountsFor', uploadsDir(spec)]] : []),
    ] as Array<[string, string]>,
    Service: [
      ['Type', 'exec'],
      // deploy/rolling-update.sh pins another image with a drop-in (50-image.conf) that overrides this.
      ['Environment', `APP_IMAGE=${spec.app.image}`],
      ['EnvironmentFile', envPath],
      ['ExecStartPre', `-/usr/bin/docker rm -f ${o.unit}`],
      ['ExecStart', dockerArgs.join(' ')],
      ['ExecStop', `/usr/bin/docker stop -t ${spec.app.stopGracePeriod} ${o.unit}`],
      ['TimeoutStopSec', spec.app.stopGracePeriod + 10],
      ['Restart', 'always'],
      ['RestartSec', '2s'],
      ...sandbox({ system: 'strict', caps: [], home: 'read-only', why: ['Sandbox: this unit runs the docker client only (the container runs under dockerd); it needs no capability, reads its config from ~/.docker, and talks to dockerd over /run/docker.sock.'] }),
    ] as Array<[string, string | number]>,
    Install: [['WantedBy', 'multi-user.target']] as Array<[string, string]>,
  };
}
