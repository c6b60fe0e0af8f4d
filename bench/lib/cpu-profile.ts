/** A V8 CPU profile (the inspector's Profiler.stop, or a .cpuprofile file): the parts read here. */
export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  /** The id of the node on top of the stack at each sample. */
  readonly samples: readonly number[];
}

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}

/** How many of a profile's busy samples have a frame of the given scripts anywhere on the stack. */
export interface InclusiveSamples {
  /** Samples with such a frame on the stack (its callees included, whatever script they are in). */
  readonly inclusive: number;
  /** Samples in which the thread was not idle: JavaScript, native code, GC. */
  readonly busy: number;
}

/** V8's name for samples taken while the thread waited for work (the event loop polling). */
const IDLE = '(idle)';

/**
 * Counts the samples whose stack holds a frame of a script `inScript` accepts, out of the
 * samples in which the profiled thread was busy: that share of its CPU time was spent in those
 * scripts' functions or in what they called.
 */
export function inclusiveSamples(profile: CpuProfile, inScript: (url: string) => boolean): InclusiveSamples {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  // Whether a node or one of its callers is in the scripts, decided once per node.
  const within = new Map<number, boolean>();
  const isWithin = (id: number): boolean => {
    const known = within.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    const parent = parents.get(id);
    const answer = node !== undefined && (inScript(node.callFrame.url) || (parent !== undefined && isWithin(parent)));
    within.set(id, answer);
    return answer;
  };
  let inclusive = 0;
  let busy = 0;
  for (const id of profile.samples) {
    if (byId.get(id)?.callFrame.functionName === IDLE) continue;
    busy++;
    if (isWithin(id)) inclusive++;
  }
  return { inclusive, busy };
}

/** Whether any frame of the profile is in a script `inScript` accepts. */
export function hasFramesIn(profile: CpuProfile, inScript: (url: string) => boolean): boolean {
  return profile.nodes.some((node) => inScript(node.callFrame.url));
}
