/**
 * The nonce of a payload chunk: an 11-byte big-endian counter and a flag byte, 1 on the last
 * chunk only. Written once for the main thread and once, as source, for the eval'd workers
 * (worker-encryptor.ts, decrypt-ahead.ts), side by side so they cannot drift apart.
 */
export function chunkNonce(counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 5, 6); // 48 bits of the 88-bit counter: 2^48 chunks is 16 EiB
  n[11] = last ? 1 : 0;
  return n;
}

/** CommonJS for the workers: defines `nonceOf(counter, last)`, the same as chunkNonce. */
export const CHUNK_NONCE_SOURCE = `
function nonceOf(i, last) {
  const n = Buffer.alloc(12);
  n.writeUIntBE(i, 5, 6);
  n[11] = last ? 1 : 0;
  return n;
}
`;
