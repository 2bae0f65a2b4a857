/**
 * Byte helpers shared by the codecs and the cluster's segment joiner.
 * @packageDocumentation
 */

/**
 * Concatenates `parts` into one array (the part itself when there is only one, no copy).
 * @param total Their summed length when the caller already knows it.
 */
export function concatBytes(parts: readonly Uint8Array[], total?: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let n = total ?? 0;
  if (total === undefined) for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
