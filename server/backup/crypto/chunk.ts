/**
 * One payload chunk: its nonce (an 11-byte big-endian counter and a flag byte, 1 on the last
 * chunk only) and how it is opened. Written once for the main thread and once, as source, for
 * the eval'd workers (worker-encryptor.ts, decrypt-ahead.ts), side by side so they cannot
 * drift apart.
 */
import crypto from "node:crypto";

/** Plaintext per chunk (every chunk but the last is full), the tag each adds, and a sealed chunk. */
export const CHUNK = 64 * 1024;
export const TAG = 16;
export const SEALED_CHUNK = CHUNK + TAG;

export function chunkNonce(counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 5, 6); // 48 bits of the 88-bit counter: 2^48 chunks is 16 EiB
  n[11] = last ? 1 : 0;
  return n;
}

/** Why a chunk does not open: modified, or a full chunk that opens only as a middle one (the file was cut there). */
export type ChunkFailure = "damaged" | "unmarked-last";

/** Chunk `index` of `chunks`, authenticated and decrypted; or why it is refused. */
export function openChunk(key: Buffer, index: number, chunks: number, sealed: Buffer): Buffer | ChunkFailure {
  const isLast = index === chunks - 1;
  const plain = tryOpen(key, index, isLast, sealed);
  if (plain) return plain;
  return isLast && sealed.length === SEALED_CHUNK && tryOpen(key, index, false, sealed) ? "unmarked-last" : "damaged";
}

function tryOpen(key: Buffer, index: number, last: boolean, sealed: Buffer): Buffer | null {
  const d = crypto.createDecipheriv("chacha20-poly1305", key, chunkNonce(index, last), { authTagLength: TAG });
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  const plain = d.update(sealed.subarray(0, sealed.length - TAG));
  try {
    d.final();
  } catch {
    return null;
  }
  return plain;
}

/** CommonJS for the workers (which require node:crypto as `crypto`): nonceOf and openChunk, as above. */
export const CHUNK_SOURCE = `
function nonceOf(i, last) {
  const n = Buffer.alloc(12);
  n.writeUIntBE(i, 5, 6);
  n[11] = last ? 1 : 0;
  return n;
}
function tryOpen(key, i, last, sealed) {
  const d = crypto.createDecipheriv("chacha20-poly1305", key, nonceOf(i, last), { authTagLength: ${TAG} });
  d.setAuthTag(sealed.subarray(sealed.length - ${TAG}));
  const plain = d.update(sealed.subarray(0, sealed.length - ${TAG}));
  try { d.final(); } catch { return null; }
  return plain;
}
function openChunk(key, i, chunks, sealed) {
  const isLast = i === chunks - 1;
  const plain = tryOpen(key, i, isLast, sealed);
  if (plain) return plain;
  return isLast && sealed.length === ${SEALED_CHUNK} && tryOpen(key, i, false, sealed) ? "unmarked-last" : "damaged";
}
`;
