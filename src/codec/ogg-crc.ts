/**
 * The Ogg page checksum (RFC 3533 §6): CRC-32 with generator 0x04C11DB7, initial value 0, no
 * bit reflection and no final XOR, computed over the whole page with the CRC field set to zero.
 * @packageDocumentation
 */

const ZERO4 = new Uint8Array(4);

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let b = 0; b < 8; b++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/**
 * Continues an Ogg CRC over `bytes[start, end)`.
 *
 * @param crc - the running value (0 to start).
 * @returns the updated CRC as an unsigned 32-bit number.
 */
export function oggCrcUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = crc >>> 0;
  for (let i = start; i < end; i++) {
    c = ((c << 8) ^ (TABLE[((c >>> 24) ^ (bytes[i] as number)) & 0xff] as number)) >>> 0;
  }
  return c;
}

/**
 * CRC of one complete Ogg page, treating bytes 22–25 (the CRC field itself) as zero.
 *
 * @param page - the page: 27-byte header, segment table and body.
 */
export function oggPageCrc(page: Uint8Array, start = 0, end = page.length): number {
  let c = oggCrcUpdate(0, page, start, start + 22);
  c = oggCrcUpdate(c, ZERO4);
  return oggCrcUpdate(c, page, start + 26, end);
}
