import { header, type RenderContext } from '../../render/context.js';

export type UnitSection = Array<[string, string | number]>;
export interface Unit {
  Unit: UnitSection;
  Service?: UnitSection;
  Timer?: UnitSection;
  Mount?: UnitSection;
  Install?: UnitSection;
}

/** A unit file from ordered data; values never contain newlines (the schema forbids them upstream). */
export function renderUnit(unit: Unit, ctx: RenderContext): string {
  const out = [header(ctx).trimEnd()];
  for (const [section, entries] of Object.entries(unit) as Array<[string, UnitSection | undefined]>) {
    if (!entries) continue;
    out.push('', `[${section}]`);
    for (const [k, v] of entries) {
      const s = String(v);
      if (/[\n\r]/.test(s)) throw new Error(`internal: newline in unit value ${k}`);
      out.push(k === '#' ? `# ${s}` : `${k}=${s}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Where a service's secrets land on a host: written from .env by deploy.sh, mode 0600. */
export const envFilePath = (name: string, service: string) => `/etc/${name}/${service}.env`;

export interface SandboxOptions {
  /** strict: all of / read-only but `writable` and the unit's State/Runtime directories; full: /usr, /boot, /etc read-only. */
  system: 'strict' | 'full';
  /** Capabilities the service keeps (empty: none, for a service that runs as its own user). */
  caps: string[];
  /** Socket families it needs (default: unix and IP). */
  families?: string[];
  /** Paths it writes under ProtectSystem=strict ("-" prefix: may be absent). */
  writable?: string[];
  /** Keeps /dev (a watchdog, device nodes); else a private /dev. */
  devices?: string[];
  /** W^X: off for programs with a JIT (PostgreSQL's LLVM JIT, Python extensions that map code). */
  wx?: boolean;
  /** ProtectHome: yes, or read-only for a client that reads its config there. */
  home?: 'yes' | 'read-only';
  /** System calls beyond @system-service (HAProxy's chroot). */
  syscalls?: string[];
  /** What was left out and why: written into the unit as comments. */
  why?: string[];
}

/**
 * The systemd sandbox a service tolerates (systemd-analyze security rates each unit; ha-gen validate
 * fails an UNSAFE one). The options say what the service needs; everything else is taken away.
 */
export function sandbox(o: SandboxOptions): UnitSection {
  const families = o.families ?? ['AF_UNIX', 'AF_INET', 'AF_INET6'];
  return [
    ...(o.why ?? []).map((w) => ['#', w] as [string, string]),
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', o.system],
    ...(o.writable?.length ? ([['ReadWritePaths', o.writable.join(' ')]] as Array<[string, string]>) : []),
    ['ProtectHome', o.home ?? 'yes'],
    ['PrivateTmp', 'yes'],
    ...(o.devices ? ([['DevicePolicy', 'closed'], ...o.devices.map((d) => ['DeviceAllow', `${d} rw`])] as Array<[string, string]>) : ([['PrivateDevices', 'yes']] as Array<[string, string]>)),
    ['ProtectKernelTunables', 'yes'],
    ['ProtectKernelModules', 'yes'],
    ['ProtectKernelLogs', 'yes'],
    ['ProtectControlGroups', 'yes'],
    ['ProtectClock', 'yes'],
    ['ProtectHostname', 'yes'],
    ['RestrictSUIDSGID', 'yes'],
    ['RestrictRealtime', 'yes'],
    ['RestrictNamespaces', 'yes'],
    ['LockPersonality', 'yes'],
    ...(o.wx === false ? [] : ([['MemoryDenyWriteExecute', 'yes']] as Array<[string, string]>)),
    ['RestrictAddressFamilies', families.join(' ')],
    ['SystemCallArchitectures', 'native'],
    ['SystemCallFilter', ['@system-service', ...(o.syscalls ?? [])].join(' ')],
    ['CapabilityBoundingSet', o.caps.join(' ')],
  ];
}
