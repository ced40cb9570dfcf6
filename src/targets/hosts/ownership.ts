/**
 * Owner, group and mode of every file deploy.sh installs on a host, from what the bundle knows
 * (which service user reads which folder, the file's own mode in the bundle), never from the local
 * checkout: under an operator's `umask 077` a copied tree landed /etc/patroni 0700 and patroni.yml
 * 0600 root-owned, which the postgres user cannot read (issue 15).
 */

export interface Ownership {
  mode: string;
  owner: string;
  group: string;
}

interface Rule {
  /** folder on the host (no trailing slash); matches files directly in it or below */
  dir: RegExp;
  owner: string;
  group: string;
  /** files readable by owner and group only (config a service user reads, no world access) */
  private: boolean;
  /** the folder's own mode, when deploy.sh sets it (folders the service's package owns or ours) */
  dirMode?: string;
  /** the folder's group when it differs from the files' (package folders stay root:root) */
  dirGroup?: string;
}

/** First match wins. Secrets are not here: they are written to EnvironmentFiles with mode 0600. */
function rules(app: string): Rule[] {
  return [
    // Patroni runs as postgres and reads its YAML and the post-bootstrap script
    { dir: /^\/etc\/patroni$/, owner: 'root', group: 'postgres', private: true, dirMode: '0750' },
    // pgbackrest (archive_command, backup unit) runs as postgres
    { dir: /^\/etc\/pgbackrest$/, owner: 'root', group: 'postgres', private: true, dirMode: '0750' },
    // Debian's layout: the cluster's config folder belongs to postgres
    { dir: /^\/etc\/postgresql\/\d+\/main$/, owner: 'postgres', group: 'postgres', private: true, dirMode: '0755' },
    { dir: /^\/etc\/etcd$/, owner: 'root', group: 'etcd', private: true, dirMode: '0750' },
    // haproxy-db runs as haproxy; the LB's haproxy reads its config before it drops to haproxy
    { dir: /^\/etc\/haproxy$/, owner: 'root', group: 'haproxy', private: true, dirMode: '0755', dirGroup: 'root' },
    { dir: /^\/etc\/caddy$/, owner: 'root', group: 'caddy', private: true, dirMode: '0755', dirGroup: 'root' },
    // keepalived runs as root
    { dir: /^\/etc\/keepalived$/, owner: 'root', group: 'root', private: true, dirMode: '0755' },
    // the app's own folder: psql files run as postgres (runuser), the ruleset and helpers as root;
    // nothing secret in it, so readable by all
    { dir: new RegExp(`^/etc/${app.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(/.*)?$`), owner: 'root', group: 'root', private: false, dirMode: '0755' },
    // units, exports, /usr/local/sbin helpers and anything else: root's, as the bundle's mode says
    { dir: /.*/, owner: 'root', group: 'root', private: false },
  ];
}

const parent = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';

/** A file's ownership: the rule of its folder, with the bundle's mode (executable stays executable). */
export function fileOwnership(app: string, hostPath: string, bundleMode: number): Ownership {
  const r = rules(app).find((x) => x.dir.test(parent(hostPath)))!;
  const exec = (bundleMode & 0o111) !== 0;
  const mode = r.private ? (exec ? 0o750 : 0o640) : exec ? 0o755 : 0o644;
  return { mode: mode.toString(8).padStart(4, '0'), owner: r.owner, group: r.group };
}

/** The folders whose owner and mode deploy.sh sets (other parents are made 0755 root, or left as they are). */
export function dirOwnership(app: string, hostPaths: string[]): Array<Ownership & { path: string }> {
  const dirs = [...new Set(hostPaths.map(parent))].sort();
  return dirs.flatMap((d) => {
    const r = rules(app).find((x) => x.dir.test(d))!;
    return r.dirMode ? [{ path: d, mode: r.dirMode, owner: r.owner, group: r.dirGroup ?? r.group }] : [];
  });
}
