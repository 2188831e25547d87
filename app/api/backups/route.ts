/**
 * REST: GET /api/backups (list) and POST /api/backups (create).
 *
 * Create follows the spec: it answers 201 with the finished backup (status completed) and a
 * Location header, so a client can list or download it right away, as the real BaluHost's
 * client does. A backup that fails answers with its error and the failed record's id.
 * Clients that do not want to wait ask for the asynchronous form with `Prefer:
 * respond-async` (RFC 7240) or `"wait": false`: 202, Location, the backup in_progress.
 */
import { createBackupInput, toBackupRecord } from "@/server/backup/contract";
import { createBackup, listBackups, progressOf } from "@/server/backup/service";
import { getConfig } from "@/server/config";
import { APP_ERROR_CODES, type AppErrorCode } from "@/server/errors";
import { prefersAsync } from "@/server/http/prefer";
import { adminRoute, jsonError, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";
// A synchronous create answers when the backup has finished: minutes for a large NAS.
export const maxDuration = 3600;

export const GET = adminRoute(({ db }) => Response.json(listBackups(db, getConfig())));

export const POST = adminRoute(async ({ req, db, actor }) => {
  const input = createBackupInput.parse(await readJsonBody(req));
  const respondAsync = input.wait === false || (input.wait === undefined && prefersAsync(req));
  const row = await createBackup({ db, config: getConfig(), actor, input: { ...input, wait: !respondAsync } });
  const record = toBackupRecord(row, progressOf(row.id));
  const location = `/api/backups/${row.id}`;
  if (respondAsync) {
    const headers: Record<string, string> = { Location: location };
    if (input.wait === undefined) headers["Preference-Applied"] = "respond-async";
    return Response.json(record, { status: 202, headers });
  }
  if (row.status === "completed") return Response.json(record, { status: 201, headers: { Location: location } });
  const code: AppErrorCode = row.errorCode && row.errorCode in APP_ERROR_CODES ? (row.errorCode as AppErrorCode) : "BACKUP_FAILED";
  const response = jsonError(APP_ERROR_CODES[code].http, code, row.errorMessage ?? "The backup failed. Check the server log.", {
    backup_id: row.id,
    backup: record,
  });
  response.headers.set("Location", location);
  return response;
});

const refused = methodNotAllowed("GET", "POST");
export { refused as PUT, refused as PATCH, refused as DELETE };
