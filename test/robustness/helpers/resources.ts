/**
 * Snapshots of `process.getActiveResourcesInfo()` counted per resource type, so a leak test can
 * compare before/after without caring about the runner's own handles.
 */
export type ResourceCounts = Record<string, number>;

export function resourceCounts(): ResourceCounts {
  const out: ResourceCounts = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** Types whose count grew from `before` to `after`, with the growth. */
export function grown(before: ResourceCounts, after: ResourceCounts): ResourceCounts {
  const out: ResourceCounts = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

/** Lets pending closes (uv_close callbacks, socket 'close' events) run: a few loop turns. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * Waits, turn by turn, until nothing grew compared with `before` (sockets and child processes
 * close asynchronously), up to `maxTurns` loop turns; returns what is still grown.
 * A bound in loop turns rather than milliseconds: the outcome is asserted, not a duration.
 */
export async function settleTo(before: ResourceCounts, maxTurns = 2000): Promise<ResourceCounts> {
  let g = grown(before, resourceCounts());
  for (let i = 0; i < maxTurns && Object.keys(g).length > 0; i++) {
    await new Promise<void>((r) => setTimeout(r, 1));
    g = grown(before, resourceCounts());
  }
  return g;
}
