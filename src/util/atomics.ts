/**
 * `Atomics.waitAsync` for credit counters shared between threads (the pacer thread and its
 * producers). V8 has had it since Node 16; the ES2023 lib typings lack it.
 * @packageDocumentation
 */

interface AtomicsWithWaitAsync {
  waitAsync(
    arr: Int32Array,
    index: number,
    value: number,
    timeoutMs?: number,
  ): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}

/**
 * Resolves when `arr[index]` no longer holds `seen` (after an `Atomics.notify`), or after `ms`
 * at the latest: the caller looks at the counter again either way.
 */
export async function waitForChange(arr: Int32Array, index: number, seen: number, ms: number): Promise<void> {
  const r = (Atomics as unknown as AtomicsWithWaitAsync).waitAsync(arr, index, seen, ms);
  if (r.async) await r.value;
}
