/**
 * GET/HEAD /api/backups/{id}/download as a web-standard handler: streams the archive from
 * disk (Range, conditional requests) for an admin. It is the one route that accepts a
 * credential in the URL (a download ticket, or an API token for the real client's links),
 * so every answer carries `Referrer-Policy: no-referrer`, and the audit entry records the
 * download, never the URL or its token.
 *
 * The Pages API route in pages/api/backups/[id]/download.ts serves it (see there for why);
 * tests call it directly with a Request.
 */
import { recordAudit } from "../audit";
import { backupIdSchema } from "../backup/contract";
import { openBackupDownload } from "../backup/service";
import { getConfig } from "../config";
import { isEncryptedName } from "../backup/catalog";
import { serveFile } from "./download";
import { downloadCredential } from "./download-links";
import { adminRoute, methodNotAllowed, type RouteTransport } from "./route-handler";

type Params = { id: string };

const download = adminRoute<Params>(
  async ({ req, db, actor, params }) => {
    const id = backupIdSchema.parse(params.id);
    try {
      const file = await openBackupDownload({ db, config: getConfig(), id });
      // An encrypted backup (.tar.gz.age) is served as the age file it is, not as gzip.
      const contentType = isEncryptedName(file.filename) ? "application/octet-stream" : "application/gzip";
      const { response, range } = serveFile(req, { ...file, contentType });
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
  },
  {
    urlCredential: (token, { db, params }) =>
      downloadCredential({ db, config: getConfig(), token, backupId: backupIdSchema.parse(params.id) }),
  },
);

const refused = methodNotAllowed("GET", "HEAD");

/** Answers any method: GET and HEAD download, everything else is a 405. */
export async function downloadBackupRoute(req: Request, segment: { params: Promise<Params> }, transport?: RouteTransport): Promise<Response> {
  const method = req.method.toUpperCase();
  const response = method === "GET" || method === "HEAD" ? await download(req, segment, transport) : refused(req);
  // The URL may hold a token: it must not travel on to wherever the answer links.
  response.headers.set("Referrer-Policy", "no-referrer");
  return response;
}
