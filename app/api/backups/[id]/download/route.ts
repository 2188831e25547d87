/**
 * REST: GET /api/backups/{id}/download streams the archive from disk (Range, ETag).
 * Route handlers get no tRPC middleware: adminRoute checks the caller's role itself.
 */
import { backupIdSchema } from "@/server/backup/contract";
import { openBackupDownload } from "@/server/backup/service";
import { recordAudit } from "@/server/audit";
import { getConfig } from "@/server/config";
import { serveFile } from "@/server/http/download";
import { adminRoute } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

type Params = { id: string };

const download = adminRoute<Params>(async ({ req, db, actor, params }) => {
  const id = backupIdSchema.parse(params.id);
  try {
    const file = await openBackupDownload({ db, config: getConfig(), id });
    const { response, range } = serveFile(req, { ...file, contentType: "application/gzip" });
    // A resumed download sends many range requests: audit the start of a download only.
    if (req.method === "GET" && response.status !== 304 && response.status !== 416 && (!range || range.start === 0)) {
      recordAudit(db, {
        action: "backup.download",
        actor,
        resource: `backup:${id}`,
        success: true,
        details: { filename: file.filename, size_bytes: file.size, range: range ? `${range.start}-${range.end}` : null },
      });
    }
    return response;
  } catch (err) {
    recordAudit(db, { action: "backup.download", actor, resource: `backup:${id}`, success: false, errorMessage: err instanceof Error ? err.message : String(err) });
    throw err;
  }
});

export { download as GET, download as HEAD };
