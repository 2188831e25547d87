/**
 * writev() may write fewer bytes than asked (a full disk, a signal, more buffers than IOV_MAX):
 * this loops until every byte of `chunks` is written, or rejects with the write's own error
 * (so ENOSPC stays ENOSPC). Shared by the archive writer and anything else that writes
 * vectors of buffers.
 */
export async function writevAll(writev: (bufs: Buffer[]) => Promise<number>, chunks: Buffer[]): Promise<void> {
  let bufs = chunks.filter((c) => c.length > 0);
  while (bufs.length > 0) {
    const bytesWritten = await writev(bufs);
    let n = bytesWritten;
    let i = 0;
    while (i < bufs.length && n >= bufs[i].length) n -= bufs[i++].length;
    if (i === bufs.length) return;
    if (bytesWritten === 0) throw Object.assign(new Error("write made no progress"), { code: "EIO" });
    bufs = [bufs[i].subarray(n), ...bufs.slice(i + 1)];
  }
}
