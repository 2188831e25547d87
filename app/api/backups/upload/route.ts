/**
 * REST: POST /api/backups/upload — the request body is the .tar.gz itself, streamed to
 * disk (never buffered), then verified like any archive from outside. 201 with the new
 * backup on success. `?backup_type=incremental` declares the type of an archive without our
 * manifest whose contents cannot tell it (see restore/foreign.ts). An encrypted archive
 * (.tar.gz.age) is opened with the key in `X-Backup-Passphrase` or `X-Backup-Identity` (headers,
 * never the URL, so no log keeps them), else with the server's own.
 */
import { Readable } from "node:stream";
import { BACKUP_TYPES, type BackupType } from "@/db/schema";
import { toBackupRecord } from "@/server/backup/contract";
import { givenKeys } from "@/server/backup/encryption";
import { importBackup } from "@/server/backup/import";
import { getConfig } from "@/server/config";
import { AppError } from "@/server/errors";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";
export const maxDuration = 3600;

const ARCHIVE_TYPES = new Set(["application/gzip", "application/x-gzip", "application/octet-stream", "application/x-tar", "application/x-compressed-tar"]);

export const POST = adminRoute(async ({ req, db, actor }) => {
  const type = req.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase() ?? "";
  if (!ARCHIVE_TYPES.has(type)) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Send the archive itself as the request body (Content-Type: application/gzip).");
  }
  if (!req.body) throw new AppError("BAD_REQUEST", "The request has no body: send the .tar.gz archive as the body.");
  const length = Number(req.headers.get("content-length"));
  const name = req.headers.get("x-filename");
  const declared = new URL(req.url).searchParams.get("backup_type");
  if (declared !== null && !(BACKUP_TYPES as readonly string[]).includes(declared)) {
    throw new AppError("BAD_REQUEST", `backup_type must be one of ${BACKUP_TYPES.join(", ")} (or left out: the type is read from the archive).`);
  }
  const row = await importBackup({
    db,
    config: getConfig(),
    actor,
    source: Readable.fromWeb(req.body as import("node:stream/web").ReadableStream<Uint8Array>),
    origin: "uploaded",
    expectedBytes: Number.isFinite(length) && length > 0 ? length : undefined,
    originalName: name ? decodeURIComponent(name).slice(0, 255) : undefined,
    declaredType: (declared as BackupType | null) ?? undefined,
    keys: givenKeys({
      passphrase: req.headers.get("x-backup-passphrase") ?? undefined,
      identity: req.headers.get("x-backup-identity") ?? undefined,
    }),
  });
  return Response.json(toBackupRecord(row), { status: 201 });
});

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
