/**
 * Keeping the memory of the encryption threads flat.
 *
 * node:crypto's cipher returns a new buffer for every 64 KiB chunk it seals or opens: a GB of
 * archive is 16,000 buffers of garbage. On the main thread they are collected along with
 * everything else; a worker's small heap barely allocates, so V8 lets them pile up to its
 * external-memory trigger (measured here: 40-80 MB more peak RSS for a restore). The threads
 * therefore run a young-generation collection after every GC_EVERY_BYTES they produce (about
 * 0.2 ms each), which needs `gc` exposed to them (a V8 flag, set before the thread starts: it
 * only adds a global to contexts created afterwards).
 *
 * Collecting that often has a cost of its own with glibc: each collection frees a few MiB at
 * the top of the thread's malloc arena, which glibc hands back to the kernel (trim threshold
 * 128 KiB by default), so the next chunks page-fault it in again: 1.3 s instead of 0.7 s per GB
 * in our measurements. glibc raises its trim threshold to twice the size of the largest
 * mmap'd block freed (up to 64 MiB), so the thread allocates and frees one RAISE_TRIM_BYTES
 * buffer first (process-wide, and only ever raised: each arena may keep that much free at its
 * top). Elsewhere (musl, macOS) that buffer is just freed.
 */
import v8 from "node:v8";

let exposed = false;

/** Makes `gc` a global of workers started from now on (once per process). */
export function exposeGcToWorkers(): void {
  if (exposed) return;
  v8.setFlagsFromString("--expose-gc");
  exposed = true;
}

/**
 * Freed between collections, and trimmed by glibc only above twice RAISE_TRIM_BYTES. Measured
 * on the bench (decryption): collecting every 8 MiB behind an 8 MiB raise kept 25-40 MB more
 * peak RSS than every 2 MiB behind 4 MiB, at the same speed.
 */
const RAISE_TRIM_BYTES = 4 * 1024 * 1024;

/** Collect after this many bytes of chunk buffers. */
const GC_EVERY_BYTES = 2 * 1024 * 1024;

/**
 * CommonJS for the eval'd workers: defines `collectChunkGarbage(bytes)`, to call with the bytes
 * of every chunk buffer made; a no-op where `gc` is not exposed.
 */
export const WORKER_GARBAGE_SOURCE = `
const collectChunkGarbage = (() => {
  if (typeof gc !== "function") return () => {};
  const raiseTrimThreshold = () => {
    let big = Buffer.allocUnsafeSlow(${RAISE_TRIM_BYTES});
    big[0] = 1;
    big = null;
    gc();
  };
  raiseTrimThreshold();
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < ${GC_EVERY_BYTES}) return;
    since = 0;
    gc({ type: "minor" });
  };
})();
`;
