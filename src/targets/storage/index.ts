/**
 * Shared storage for uploads (the guide's "Shared Storage for Uploads"): local, nfs, s3 (MinIO),
 * glusterfs, on every platform. Containers get a volume definition; hosts get server setup and
 * systemd .mount units on the app hosts.
 */
import type { Host, Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder, SecretDef } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { renderUnit, envFilePath, sandbox, type Unit } from '../systemd/index.js';
import { addSteps, hostFile, topology, type HostsPlan } from '../hosts/plan.js';
import minioBootstrap from '../../../templates/storage/minio-bootstrap.sh.hbs?raw';
import glusterVolume from '../../../templates/storage/gluster-volume.sh.hbs?raw';
import mountClient from '../../../templates/storage/mount-client.sh.hbs?raw';
import nfsServer from '../../../templates/storage/nfs-server.sh.hbs?raw';
import glusterdVol from '../../../templates/storage/glusterd.vol.hbs?raw';

/** Pinned: MinIO changes behaviour between releases; the image also ships `mc` for the bootstrap. */
export const MINIO_IMAGE = 'minio/minio:RELEASE.2025-04-22T22-12-26Z';
export { MINIO_PORT } from '../../model/constants.js';
import { MINIO_PORT, MINIO_CONSOLE_PORT, GLUSTERD_PORT, GLUSTER_BRICK_PORT, nameSlug, uploadsDir, unitNames } from '../../model/constants.js';

export const STORAGE_SECRETS = {
  minioUser: { name: 'MINIO_ROOT_USER', help: 'MinIO root user (read by MinIO); only the bootstrap uses it.', value: 'minio-root' },
  minioPassword: { name: 'MINIO_ROOT_PASSWORD', help: 'MinIO root password (read by MinIO).' },
  s3Key: { name: 'AWS_ACCESS_KEY_ID', help: 'The app\'s own S3 access key, limited to the uploads bucket (standard S3 SDK variable).', value: 'uploads-app' },
  s3Secret: { name: 'AWS_SECRET_ACCESS_KEY', help: 'Secret of the app\'s S3 access key (standard S3 SDK variable).' },
} satisfies Record<string, SecretDef>;

const slug = nameSlug;
export { uploadsDir };
export const mountUnitName = (spec: Spec) => unitNames(spec).uploadsMount;
export const glusterVolumeName = (spec: Spec) => `${spec.name}-uploads`;
const glusterBrick = (spec: Spec) => `/srv/glusterfs/${slug(spec)}/brick`;
/**
 * Seconds a client (the app hosts' mount, the self-heal daemon) waits for a silent brick before it
 * drops it and carries on with the other replicas; GlusterFS's stock 42 s froze every upload for 42 s
 * after a storage server lost power. Not lower: each expiry tears down and re-acquires the brick's
 * open files and locks (GlusterFS's reason for a long default), and 10 s stays far above a pause of
 * a loaded server on a private network. Measured in the whole-host lab (test/live/whole-host.test.ts).
 */
export const GLUSTER_PING_TIMEOUT = 10;
const NFS_CLIENT_OPTS = 'nfsvers=4.1,hard,timeo=600,retrans=2,noatime';

/** Export options. all_squash maps every client uid to the dedicated owner, so the app container's
 * uid does not matter; root_squash (also implied) keeps client root unprivileged. */
export const nfsExportOptions = (spec: Spec) => `rw,sync,no_subtree_check,root_squash,all_squash,anonuid=${spec.storage.uid},anongid=${spec.storage.uid}`;

const policyName = (spec: Spec) => `${spec.name}-uploads-rw`;

export function uploadsPolicy(spec: Spec): string {
  const bucket = spec.storage.bucket;
  return `${JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'], Resource: [`arn:aws:s3:::${bucket}`] },
        { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], Resource: [`arn:aws:s3:::${bucket}/*`] },
      ],
    },
    null,
    2,
  )}\n`;
}

/** The app's S3 settings (the app must support S3: the guide notes it needs code changes). */
export function s3AppEnv(spec: Spec, endpoint: string, secret: (name: string) => string): Record<string, string> {
  return {
    S3_ENDPOINT: endpoint,
    S3_BUCKET: spec.storage.bucket,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: spec.storage.s3Region,
    AWS_ACCESS_KEY_ID: secret(STORAGE_SECRETS.s3Key.name),
    AWS_SECRET_ACCESS_KEY: secret(STORAGE_SECRETS.s3Secret.name),
  };
}

function glusterServers(spec: Spec): string[] {
  const hosts = topology(spec).storage;
  if (spec.platform === 'hosts') return hosts.map((h) => h.address);
  return spec.storage.servers.length ? spec.storage.servers : ['gluster1', 'gluster2', 'gluster3'];
}

function mountUnit(spec: Spec, what: string, type: 'nfs' | 'glusterfs', extra: string[] = []): Unit {
  return {
    Unit: [
      ['Description', `${spec.name} shared uploads (${type}, ha-gen)`],
      ['After', 'network-online.target'],
      ['Wants', 'network-online.target'],
    ],
    Mount: [
      ['What', what],
      ['Where', uploadsDir(spec)],
      ['Type', type],
      // hard (nfs): a server outage blocks I/O instead of silently failing writes.
      ['Options', [...(type === 'nfs' ? [NFS_CLIENT_OPTS] : []), '_netdev', ...extra].join(',')],
      ['TimeoutSec', 60],
    ],
    Install: [['WantedBy', 'remote-fs.target']],
  };
}

function glusterMount(spec: Spec): Unit {
  const servers = glusterServers(spec);
  return mountUnit(spec, `${servers[0]}:/${glusterVolumeName(spec)}`, 'glusterfs', servers.length > 1 ? [`backup-volfile-servers=${servers.slice(1).join(':')}`] : []);
}

function nfsServerAddress(spec: Spec): string {
  const host = topology(spec).storage[0];
  return spec.platform === 'hosts' && host ? host.address : spec.storage.nfsServer;
}

export interface ContainerStorage {
  /** Entry for the app service's `volumes` (absent for s3: uploads go to the bucket). */
  appVolume?: string;
  /** Top-level volumes to add. */
  volumes: Record<string, unknown>;
  /** Services to add (MinIO and its bootstrap). */
  services: Record<string, Record<string, unknown>>;
  /** Environment for every app instance. */
  appEnv: Record<string, string>;
}

/**
 * Storage for compose and swarm. `secretVar(name)` is how the platform interpolates a .env value;
 * `swarmSecret` (swarm) registers a Swarm secret created from .env and returns its key.
 */
export function renderContainerStorage(
  spec: Spec,
  ctx: RenderContext,
  b: BundleBuilder,
  o: { platform: 'compose' | 'swarm'; networks: string[]; secretVar: (name: string) => string; swarmSecret?: (key: string, def: SecretDef) => string; swarmConfig?: (key: string, file: string) => string },
): ContainerStorage {
  const s = spec.storage;
  const h = header(ctx);
  const out: ContainerStorage = { volumes: {}, services: {}, appEnv: {} };
  if (s.kind === 'local') {
    out.appVolume = `uploads:${spec.app.uploadsPath}`;
    out.volumes.uploads = {};
  }
  if (s.kind === 'nfs') {
    out.appVolume = `uploads:${spec.app.uploadsPath}`;
    // Every node's Docker mounts the export itself (NFSv4.1); the server side is storage/nfs/nfs-server.sh.
    out.volumes.uploads = { driver: 'local', driver_opts: { type: 'nfs', o: `addr=${s.nfsServer},rw,${NFS_CLIENT_OPTS}`, device: `:${s.nfsExport}` } };
    b.add(
      'storage/nfs/nfs-server.sh',
      renderTemplate(nfsServer, { header: h.trimEnd(), server: s.nfsServer, uid: s.uid, group: `${slug(spec)}_uploads`, export: s.nfsExport, options: nfsExportOptions(spec), exportsFile: `/etc/exports.d/${spec.name}.exports` }),
      { mode: 0o755, checks: [{ tool: 'shell' }] },
    );
  }
  if (s.kind === 'glusterfs') {
    // Docker's local driver cannot mount FUSE file systems: each node mounts the volume (mount-client.sh)
    // and the app bind-mounts that folder.
    out.appVolume = `uploads:${spec.app.uploadsPath}`;
    out.volumes.uploads = { driver: 'local', driver_opts: { type: 'none', o: 'bind', device: uploadsDir(spec) } };
    addGlusterScripts(spec, ctx, b, 'storage/glusterfs', '');
    const unit = mountUnitName(spec);
    b.add(
      'storage/glusterfs/mount-client.sh',
      renderTemplate(mountClient, { header: h.trimEnd(), where: uploadsDir(spec), platform: o.platform, package: 'glusterfs-client', unitPath: `/etc/systemd/system/${unit}`, unitName: unit, unit: renderUnit(glusterMount(spec), ctx).trimEnd() }),
      { mode: 0o755, checks: [{ tool: 'shell' }] },
    );
  }
  if (s.kind === 's3') {
    b.secret(STORAGE_SECRETS.minioUser).secret(STORAGE_SECRETS.minioPassword).secret(STORAGE_SECRETS.s3Key).secret(STORAGE_SECRETS.s3Secret);
    b.resolveNames('minio');
    b.add('storage/minio/bootstrap.sh', renderTemplate(minioBootstrap, { header: h.trimEnd(), endpoint: `http://minio:${MINIO_PORT}`, bucket: s.bucket, policy: policyName(spec), policyFile: '/etc/minio-bootstrap/policy.json' }), { mode: 0o755, checks: [{ tool: 'shell' }] });
    b.add('storage/minio/policy.json', uploadsPolicy(spec), { checks: [{ tool: 'json' }] });
    out.appEnv = s3AppEnv(spec, `http://minio:${MINIO_PORT}`, o.secretVar);
    out.volumes['minio-data'] = {};
    const health = { test: ['CMD-SHELL', `MC_HOST_local=http://127.0.0.1:${MINIO_PORT} mc ready local`], interval: '10s', timeout: '5s', retries: 5, start_period: '20s' };
    if (o.platform === 'compose') {
      out.services.minio = {
        image: MINIO_IMAGE,
        restart: 'unless-stopped',
        command: ['server', '/data', '--console-address', ':9001'],
        environment: { MINIO_ROOT_USER: o.secretVar(STORAGE_SECRETS.minioUser.name), MINIO_ROOT_PASSWORD: o.secretVar(STORAGE_SECRETS.minioPassword.name) },
        volumes: ['minio-data:/data'],
        // The console only on this host's loopback (ssh -L 9001:127.0.0.1:9001 to use it).
        ports: ['127.0.0.1:9001:9001'],
        healthcheck: health,
        networks: o.networks,
        security_opt: ['no-new-privileges:true'],
      };
      out.services['minio-init'] = {
        image: MINIO_IMAGE,
        entrypoint: ['/bin/sh', '/etc/minio-bootstrap/bootstrap.sh'],
        environment: {
          MINIO_ROOT_USER: o.secretVar(STORAGE_SECRETS.minioUser.name),
          MINIO_ROOT_PASSWORD: o.secretVar(STORAGE_SECRETS.minioPassword.name),
          AWS_ACCESS_KEY_ID: o.secretVar(STORAGE_SECRETS.s3Key.name),
          AWS_SECRET_ACCESS_KEY: o.secretVar(STORAGE_SECRETS.s3Secret.name),
        },
        volumes: ['./storage/minio:/etc/minio-bootstrap:ro'],
        depends_on: { minio: { condition: 'service_healthy' } },
        restart: 'on-failure',
        networks: o.networks,
      };
    } else {
      const sec = o.swarmSecret!;
      const cfg = o.swarmConfig!;
      const rootUser = sec('minio_root_user', STORAGE_SECRETS.minioUser);
      const rootPw = sec('minio_root_password', STORAGE_SECRETS.minioPassword);
      const key = sec('s3_access_key_id', STORAGE_SECRETS.s3Key);
      const secret = sec('s3_secret_access_key', STORAGE_SECRETS.s3Secret);
      const boot = cfg('minio_bootstrap', 'storage/minio/bootstrap.sh');
      const pol = cfg('minio_policy', 'storage/minio/policy.json');
      out.services.minio = {
        image: MINIO_IMAGE,
        command: ['server', '/data', '--console-address', ':9001'],
        // MinIO reads *_FILE variables as names of files in /run/secrets.
        environment: { MINIO_ROOT_USER_FILE: 'minio_root_user', MINIO_ROOT_PASSWORD_FILE: 'minio_root_password' },
        secrets: [rootUser, rootPw],
        volumes: ['minio-data:/data'],
        healthcheck: health,
        networks: o.networks,
        deploy: {
          replicas: 1,
          // Its data volume lives on the labelled node; for no single point of failure use distributed
          // MinIO (4+ nodes) or a managed S3.
          placement: { constraints: ['node.labels.storage == true'] },
          restart_policy: { condition: 'any', delay: '5s' },
        },
      };
      out.services['minio-init'] = {
        image: MINIO_IMAGE,
        entrypoint: ['/bin/sh', '/etc/minio-bootstrap/bootstrap.sh'],
        secrets: [rootUser, rootPw, key, secret],
        configs: [
          { source: boot, target: '/etc/minio-bootstrap/bootstrap.sh', mode: 0o555 },
          { source: pol, target: '/etc/minio-bootstrap/policy.json', mode: 0o444 },
        ],
        networks: o.networks,
        deploy: { replicas: 1, restart_policy: { condition: 'on-failure', delay: '10s', max_attempts: 10 } },
      };
    }
  }
  return out;
}

/** The GlusterFS volume script (run on one server). */
function addGlusterScripts(spec: Spec, ctx: RenderContext, b: BundleBuilder, dir: string, clients: string): void {
  b.add(
    `${dir}/gluster-volume.sh`,
    renderTemplate(glusterVolume, { header: header(ctx).trimEnd(), volume: glusterVolumeName(spec), brick: glusterBrick(spec), servers: glusterServers(spec), clients, uid: spec.storage.uid, pingTimeout: GLUSTER_PING_TIMEOUT }),
    { mode: 0o755, checks: [{ tool: 'shell' }] },
  );
}

export interface HostsStorage {
  /** Unit the app unit must wait for (RequiresMountsFor covers mounts; this is for ordering notes). */
  appEnv: Record<string, string>;
  /** Whether app hosts mount uploadsDir from the network. */
  mounted: boolean;
}

/** Platform hosts: server side on the storage hosts, .mount units on the app hosts. */
export function renderHostsStorage(spec: Spec, ctx: RenderContext, b: BundleBuilder, plan: HostsPlan): HostsStorage {
  const s = spec.storage;
  const t = topology(spec);
  const h = header(ctx);
  const appMount = (unit: Unit, pkg: string) => {
    for (const app of t.app) {
      b.add(hostFile(app, `/etc/systemd/system/${mountUnitName(spec)}`), renderUnit(unit, ctx), { checks: [{ tool: 'systemd' }] });
      addSteps(plan, app, 'uploads-mount', { before: [`install -d -m 0755 ${uploadsDir(spec)}`] });
    }
  };
  if (s.kind === 'local') {
    for (const app of t.app) addSteps(plan, app, 'uploads-dir', { before: [`install -d -o ${s.uid} -g ${s.uid} -m 0770 ${uploadsDir(spec)}`] });
    return { appEnv: {}, mounted: false };
  }
  if (s.kind === 'nfs') {
    const server = t.storage[0];
    if (server) {
      const exportsFile = `/etc/exports.d/${spec.name}.exports`;
      const line = `${s.nfsExport} ${t.app.map((a) => `${a.address}(${nfsExportOptions(spec)})`).join(' ')}`;
      const text = [
        h.trimEnd(),
        '# Uploads for the app hosts only. Not the guide\'s chmod 777 + no_root_squash: the folder belongs to a',
        `# dedicated uid/gid (${s.uid}), all_squash maps every client user to it, and root on a client stays`,
        '# unprivileged (root_squash), so a compromised app host cannot take over the server\'s files.',
        line,
      ].join('\n');
      b.add(hostFile(server, exportsFile), text);
      addSteps(plan, server, 'storage', {
        before: [
          `getent group ${s.uid} >/dev/null || groupadd --system --gid ${s.uid} ${slug(spec)}_uploads`,
          `getent passwd ${s.uid} >/dev/null || useradd --system --uid ${s.uid} --gid ${s.uid} --no-create-home --shell /usr/sbin/nologin ${slug(spec)}_uploads`,
          `install -d -o ${s.uid} -g ${s.uid} -m 0770 ${s.nfsExport}`,
        ],
        after: ['exportfs -ra'],
      });
    }
    appMount(mountUnit(spec, `${nfsServerAddress(spec)}:${s.nfsExport}`, 'nfs'), 'nfs-common');
    return { appEnv: {}, mounted: true };
  }
  if (s.kind === 'glusterfs') {
    const servers = t.storage;
    const last = servers[servers.length - 1]!;
    for (const srv of servers) {
      // The volfile parser runs any text between backticks, comments included (glusterd refused to
      // start on the header's `ha-gen generate`): quotes instead.
      b.add(hostFile(srv, '/etc/glusterfs/glusterd.vol'), renderTemplate(glusterdVol, { header: h.trimEnd().replace(/`/g, "'"), glusterdPort: GLUSTERD_PORT, brickPort: GLUSTER_BRICK_PORT }));
      addSteps(plan, srv, 'storage', { before: [`install -d -m 0755 ${glusterBrick(spec)}`] });
    }
    // Created from the last storage host: deployed after the others, so every glusterd answers the probe.
    addGlusterScripts(spec, ctx, b, `hosts/${last.name}/etc/${spec.name}`, t.app.map((a) => a.address).join(','));
    addSteps(plan, last, 'storage-volume', { after: [`/etc/${spec.name}/gluster-volume.sh`] });
    appMount(glusterMount(spec), 'glusterfs-client');
    return { appEnv: {}, mounted: true };
  }
  // s3: MinIO on the first storage host, run from its image like the app.
  const host: Host = t.storage[0]!;
  b.secret(STORAGE_SECRETS.minioUser).secret(STORAGE_SECRETS.minioPassword).secret(STORAGE_SECRETS.s3Key).secret(STORAGE_SECRETS.s3Secret);
  const unitName = `${spec.name}-minio`;
  const env = envFilePath(spec.name, 'minio');
  const bootEnv = envFilePath(spec.name, 'minio-bootstrap');
  const dir = `/etc/${spec.name}/minio`;
  const endpoint = `http://${host.address}:${MINIO_PORT}`;
  b.add(hostFile(host, `${dir}/bootstrap.sh`), renderTemplate(minioBootstrap, { header: h.trimEnd(), endpoint, bucket: s.bucket, policy: policyName(spec), policyFile: '/etc/minio-bootstrap/policy.json' }), { mode: 0o755, checks: [{ tool: 'shell' }] });
  b.add(hostFile(host, `${dir}/policy.json`), uploadsPolicy(spec), { checks: [{ tool: 'json' }] });
  const data = `/srv/${slug(spec)}/minio`;
  b.add(
    hostFile(host, `/etc/systemd/system/${unitName}.service`),
    renderUnit(
      {
        Unit: [['Description', `MinIO (S3 uploads) for ${spec.name} (ha-gen)`], ['After', 'network-online.target docker.service'], ['Requires', 'docker.service']],
        Service: [
          ['Type', 'exec'],
          ['ExecStartPre', `-/usr/bin/docker rm -f ${unitName}`],
          ['ExecStart', `/usr/bin/docker run --rm --name ${unitName} --env-file ${env} -p ${host.address}:${MINIO_PORT}:${MINIO_PORT} -p 127.0.0.1:${MINIO_CONSOLE_PORT}:${MINIO_CONSOLE_PORT} -v ${data}:/data ${MINIO_IMAGE} server /data --console-address :9001`],
          ['ExecStop', `/usr/bin/docker stop -t 30 ${unitName}`],
          ['Restart', 'always'],
          ['RestartSec', '2s'],
          ...sandbox({ system: 'strict', caps: [], home: 'read-only', why: ['Sandbox: this unit runs the docker client only (the container runs under dockerd); it needs no capability, reads its config from ~/.docker, and talks to dockerd over /run/docker.sock.'] }),
        ],
        Install: [['WantedBy', 'multi-user.target']],
      },
      ctx,
    ),
    { checks: [{ tool: 'systemd' }] },
  );
  const v = (n: string) => ({ name: n, value: `$${n}` });
  addSteps(plan, host, 'storage', {
    envFile: { path: env, entries: [v(STORAGE_SECRETS.minioUser.name), v(STORAGE_SECRETS.minioPassword.name)] },
    before: [`install -d -m 0700 ${data}`],
    after: [`docker run --rm --network host --env-file ${env} --env-file ${bootEnv} -v ${dir}:/etc/minio-bootstrap:ro --entrypoint /bin/sh ${MINIO_IMAGE} /etc/minio-bootstrap/bootstrap.sh`],
  });
  addSteps(plan, host, 'storage-bootstrap', { envFile: { path: bootEnv, entries: [v(STORAGE_SECRETS.s3Key.name), v(STORAGE_SECRETS.s3Secret.name)] } });
  return { appEnv: s3AppEnv(spec, endpoint, (n) => `$${n}`), mounted: false };
}
