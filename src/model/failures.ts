/**
 * What the loss of each host does, computed from the links alone: a host's loss is survived only
 * when every link that reaches a service on it still has a target elsewhere (a majority of them for
 * a quorum), found without a person.
 */
import type { Deployment, Link } from './types.js';

export type Outcome = 'yes' | 'manual' | 'no';

export interface HostLoss {
  host: string;
  survived: Outcome;
  /** One sentence per broken or degraded link. */
  effects: string[];
}

const RANK: Record<Outcome, number> = { yes: 0, manual: 1, no: 2 };

function effect(dep: Deployment, l: Link, lost: string): { outcome: Outcome; text: string } | null {
  // A floating address is lost only with the last host that can hold it.
  const isLost = (t: Link['targets'][number]) => t.to === lost || (t.to === 'floating' && (dep.floating.find((f) => f.address === t.address)?.holders ?? []).every((h) => h === lost));
  const targets = l.targets.filter(isLost);
  if (!targets.length || l.from === lost) return null;
  const remaining = l.targets.length - targets.length;
  const on = `${l.purpose} ${targets.map((t) => `${t.address}:${t.port}`).join(', ')}`;
  if (l.quorum) {
    const total = l.targets.length + (l.purpose === 'etcd-peer' ? 1 : 0);
    const left = remaining + (l.purpose === 'etcd-peer' ? 1 : 0);
    if (left > total / 2) return null;
    return { outcome: l.optional ? 'yes' : 'no', text: `${l.what} loses its majority (${left} of ${total} left)` };
  }
  if (remaining === 0) {
    if (l.optional) return { outcome: 'yes', text: `${l.what} stops until ${lost} is back (no request fails)` };
    return { outcome: l.failover === 'manual' ? 'manual' : 'no', text: `${l.what} has no other target than ${lost} (${on})${l.failover === 'manual' ? '; a person must switch it' : ''}` };
  }
  if (l.failover === 'manual' && l.targets[0]!.to === lost) {
    return { outcome: l.optional ? 'yes' : 'manual', text: `${l.what}: ${lost} was the active target; a person switches it to another` };
  }
  if (l.failover === 'dns') {
    return { outcome: 'manual', text: `${l.what}: clients that resolved ${lost} fail until their DNS answer moves (health-checked DNS or a floating address)` };
  }
  return null;
}

/** "app1, app2, app3 and 599 more" */
function names(xs: string[]): string {
  return xs.length > 3 ? `${xs.slice(0, 3).join(', ')} and ${xs.length - 3} more` : xs.join(', ');
}

/** The effect of losing each host, in model order; the same effect on many hosts is one sentence. */
export function hostLosses(dep: Deployment): HostLoss[] {
  return dep.hosts.map((h) => {
    let survived: Outcome = 'yes';
    const by = new Map<string, string[]>();
    for (const l of dep.links) {
      const e = effect(dep, l, h.name);
      if (!e) continue;
      if (!by.has(e.text)) by.set(e.text, []);
      by.get(e.text)!.push(l.from);
      if (RANK[e.outcome] > RANK[survived]) survived = e.outcome;
    }
    return { host: h.name, survived, effects: [...by].map(([text, from]) => `${names(from)}: ${text}`) };
  });
}

/** The worst outcome over all hosts, with the hosts that cause it. */
export function worstHostLoss(losses: HostLoss[]): { survived: Outcome; hosts: HostLoss[] } {
  const worst = losses.reduce<Outcome>((w, l) => (RANK[l.survived] > RANK[w] ? l.survived : w), 'yes');
  return { survived: worst, hosts: losses.filter((l) => l.survived === worst && worst !== 'yes') };
}
