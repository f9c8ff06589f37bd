/**
 * A team's shape for pictures: the board's graph and `reins status`'s tree. Pure, over names and
 * dependencies only, so both apps draw the same thing.
 *
 * Submission refuses cycles and unknown dependencies, but runs outlive changes to the spec and a damaged
 * record reads as `dependsOn: []`; so a dependency on a name that is not in the team is dropped, and an
 * edge that would close a cycle is ignored (and reported) rather than looping.
 */

export interface TeamNode {
  name: string;
  dependsOn: readonly string[];
}

export interface TeamEdge {
  /** The dependency. */
  from: string;
  /** The member that waits for it. */
  to: string;
}

export interface TeamLayers {
  /** Members by dependency depth: layer 0 needs nobody, layer n needs someone in layer n-1. In team order within a layer, then by where their dependencies sit. */
  layers: string[][];
  /** Each member's layer. */
  depth: Map<string, number>;
  /** Every dependency between two members of the team, in team order. */
  edges: TeamEdge[];
  /** Edges left out because they would close a cycle. */
  cyclic: TeamEdge[];
}

/** Layers by longest dependency path (a member sits one layer right of its deepest dependency). */
export function teamLayers(members: readonly TeamNode[]): TeamLayers {
  const byName = new Map(members.map((m) => [m.name, m]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const cyclic: TeamEdge[] = [];
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    visiting.add(name);
    let d = 0;
    for (const dep of unique(byName.get(name)?.dependsOn ?? [])) {
      if (!byName.has(dep)) continue;
      if (visiting.has(dep)) {
        cyclic.push({ from: dep, to: name });
        continue;
      }
      d = Math.max(d, depthOf(dep) + 1);
    }
    visiting.delete(name);
    depth.set(name, d);
    return d;
  };
  for (const m of members) depthOf(m.name);

  const isCyclic = (e: TeamEdge) => cyclic.some((c) => c.from === e.from && c.to === e.to);
  const edges = members.flatMap((m) => unique(m.dependsOn).flatMap((dep) => (byName.has(dep) && dep !== m.name ? [{ from: dep, to: m.name }] : []))).filter((e) => !isCyclic(e));

  const layerCount = members.length === 0 ? 0 : Math.max(...depth.values()) + 1;
  const layers: string[][] = Array.from({ length: layerCount }, () => []);
  for (const m of members) layers[depth.get(m.name)!]!.push(m.name);
  // One barycentre pass: a member sits near the mean row of its dependencies, which keeps most arrows short and uncrossed.
  const row = new Map<string, number>();
  layers.forEach((layer, i) => {
    if (i > 0) {
      const mean = (name: string): number => {
        const rows = edges.filter((e) => e.to === name).map((e) => row.get(e.from) ?? 0);
        return rows.length === 0 ? 0 : rows.reduce((a, b) => a + b, 0) / rows.length;
      };
      const order = new Map(layer.map((name, index) => [name, index]));
      layer.sort((a, b) => mean(a) - mean(b) || order.get(a)! - order.get(b)!);
    }
    layer.forEach((name, index) => row.set(name, index));
  });
  return { layers, depth, edges, cyclic };
}

export interface TeamTreeRow {
  name: string;
  /** Nesting level: 0 for a member that needs nobody. */
  level: number;
  /** The last child of its parent: drawn with └ rather than ├. */
  last: boolean;
  /** For each ancestor level above this row, whether a later sibling is still to come there (draws │). */
  rails: boolean[];
  /** The other dependencies, besides the one it is drawn under. */
  alsoAfter: string[];
}

/**
 * The team as a tree: each member under its first dependency, marked as also waiting for any others.
 * Every member appears exactly once, in team order among siblings.
 */
export function teamTree(members: readonly TeamNode[]): TeamTreeRow[] {
  const { depth } = teamLayers(members);
  const names = new Set(members.map((m) => m.name));
  const parent = new Map<string, string>();
  const alsoAfter = new Map<string, string[]>();
  for (const m of members) {
    const deps = unique(m.dependsOn).filter((d) => names.has(d) && d !== m.name);
    // A parent is always shallower, so following parents can never loop, cycles in the record or not.
    const first = deps.find((d) => depth.get(d)! < depth.get(m.name)!);
    if (first !== undefined) parent.set(m.name, first);
    alsoAfter.set(
      m.name,
      deps.filter((d) => d !== first),
    );
  }
  const children = (of: string | undefined) => members.filter((m) => parent.get(m.name) === of).map((m) => m.name);
  const rows: TeamTreeRow[] = [];
  const walk = (name: string, level: number, last: boolean, rails: boolean[]) => {
    rows.push({ name, level, last, rails, alsoAfter: alsoAfter.get(name) ?? [] });
    const kids = children(name);
    kids.forEach((kid, i) => walk(kid, level + 1, i === kids.length - 1, level === 0 ? [] : [...rails, !last]));
  };
  const roots = children(undefined);
  roots.forEach((root, i) => walk(root, 0, i === roots.length - 1, []));
  return rows;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** What a member that is not done is doing, for the mark on the graph and the tree. */
export interface MemberActivity {
  /** running: an agent is alive; waiting: its job is queued or scheduled again, and it says why. */
  state: 'running' | 'waiting';
  why: string;
}

interface ActivityFields {
  status: string;
  attempts: number;
  host?: string | undefined;
  error?: string | undefined;
  errorClass?: string | undefined;
  retryAt?: number | undefined;
}

/**
 * A running member, or one waiting with its job on a queue: for a slot under its concurrency key, an
 * account's pause, a worker with its labels (the member's `error` field carries the note while it waits),
 * or its next attempt. A pending member waits for its dependencies, which the arrows already show.
 */
export function memberActivity(member: ActivityFields): MemberActivity | undefined {
  switch (member.status) {
    case 'running':
      return { state: 'running', why: `attempt ${member.attempts}${member.host ? ` on ${member.host}` : ''}` };
    case 'queued':
      return { state: 'waiting', why: member.error ?? 'queued for a free worker' };
    case 'retrying': {
      const next = member.retryAt === undefined || member.errorClass === 'rate_limit' ? '' : `; next try ${new Date(member.retryAt).toISOString().slice(11, 19)} UTC`;
      return { state: 'waiting', why: `retrying after ${member.errorClass ?? 'a failure'}${member.error ? `: ${member.error.split('\n')[0]}` : ''}${next}` };
    }
    default:
      return undefined;
  }
}
