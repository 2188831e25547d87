/**
 * REST doors of the browse engine (server/backup/browse): each handler is an admin route
 * (route-handler.ts checks the caller itself), validates with the shared contract, calls
 * the engine and answers JSON, or streams a file or a folder out of the backup. The App
 * Router files under app/api/backups/[id]/{tree,folder,restore-paths} and the Pages route
 * pages/api/backups/[id]/file.ts only re-export these.
 */
import { Readable } from "node:stream";
import { diffBackupFolder, listBackupFolder, listUserFolders, openBackupFile, openBackupFolderArchive, searchBackup } from "../backup/browse/browse";
import {
  browseDiffInput,
  browseListInput,
  browsePathInput,
  browseSearchInput,
  restorePathsInput,
  restorePathsPlanInput,
  toFolderDiff,
  toFolderPage,
  toRestorePathsPlan,
  toRestorePathsResult,
  toRestoreRequest,
  toTreeEntry,
  toUserFolders,
} from "../backup/browse/contract";
import { planRestorePaths, restorePaths } from "../backup/browse/restore-paths";
import { backupIdSchema } from "../backup/contract";
import { getConfig } from "../config";
import { adminRoute, methodNotAllowed, readJsonBody, type RouteTransport } from "./route-handler";

type Params = { id: string };

/** The query string as an object (only the keys present), for the contract to parse. */
function query(req: Request, ...keys: string[]): Record<string, string> {
  const url = new URL(req.url);
  return Object.fromEntries(keys.flatMap((k) => (url.searchParams.has(k) ? [[k, url.searchParams.get(k)!]] : [])));
}

export const listTreeRoute = adminRoute<Params>(async ({ req, db, params }) => {
  const input = browseListInput.parse({ backup_id: params.id, ...query(req, "path", "offset", "limit") });
  return Response.json(toFolderPage(input.backup_id, await listBackupFolder({ db, config: getConfig(), id: input.backup_id, ...input })));
});

export const searchTreeRoute = adminRoute<Params>(async ({ req, db, params }) => {
  const q = query(req, "q", "under", "limit");
  const input = browseSearchInput.parse({ backup_id: params.id, query: q.q ?? "", under: q.under, limit: q.limit });
  const entries = await searchBackup({ db, config: getConfig(), id: input.backup_id, query: input.query, under: input.under, limit: input.limit });
  return Response.json({ backup_id: input.backup_id, query: input.query, entries: entries.map(toTreeEntry) });
});

export const diffTreeRoute = adminRoute<Params>(async ({ req, db, params }) => {
  const input = browseDiffInput.parse({ backup_id: params.id, ...query(req, "path", "hash") });
  return Response.json(toFolderDiff(input.backup_id, await diffBackupFolder({ db, config: getConfig(), id: input.backup_id, path: input.path, hash: input.hash })));
});

export const userFoldersRoute = adminRoute<Params>(async ({ db, params }) => {
  const id = backupIdSchema.parse(params.id);
  return Response.json(toUserFolders(id, await listUserFolders({ db, config: getConfig(), id })));
});

export const restorePlanRoute = adminRoute<Params>(async ({ req, db, params }) => {
  const input = restorePathsPlanInput.parse({ ...(await readObject(req)), backup_id: params.id });
  return Response.json(toRestorePathsPlan(await planRestorePaths({ db, config: getConfig(), ...toRestoreRequest(input) })));
});

export const restorePathsRoute = adminRoute<Params>(async ({ req, db, actor, params }) => {
  const input = restorePathsInput.parse({ ...(await readObject(req)), backup_id: params.id });
  return Response.json(toRestorePathsResult(await restorePaths({ db, config: getConfig(), actor, ...toRestoreRequest(input) })));
});

async function readObject(req: Request): Promise<Record<string, unknown>> {
  const body = await readJsonBody(req);
  return typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

/** `attachment; filename="…"; filename*=UTF-8''…`: an ASCII fallback and the exact UTF-8 name. */
export function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

const downloadHeaders = { "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff" };

const fileRoute = adminRoute<Params>(async ({ req, db, actor, params }) => {
  const input = browsePathInput.parse({ backup_id: params.id, ...query(req, "path") });
  const head = req.method.toUpperCase() === "HEAD";
  const { entry, stream } = await openBackupFile({ db, config: getConfig(), id: input.backup_id, path: input.path, actor: head ? undefined : actor });
  const headers = {
    ...downloadHeaders,
    "Content-Type": "application/octet-stream",
    "Content-Length": String(entry.size),
    "Content-Disposition": attachment(entry.name),
    ...(entry.sha256 ? { "X-Content-SHA256": entry.sha256 } : {}),
  };
  if (head) {
    stream.destroy();
    return new Response(null, { headers });
  }
  return new Response(Readable.toWeb(stream) as ReadableStream, { headers });
});

const refusedDownload = methodNotAllowed("GET", "HEAD");

/** GET/HEAD /api/backups/{id}/file?path=…: one file, straight out of the archive, with Content-Length (served by a Pages route). */
export async function backupFileRoute(req: Request, segment: { params: Promise<Params> }, transport?: RouteTransport): Promise<Response> {
  const method = req.method.toUpperCase();
  return method === "GET" || method === "HEAD" ? fileRoute(req, segment, transport) : refusedDownload(req);
}

/** GET /api/backups/{id}/folder?path=…: a folder of the backup as a .tar.gz built on the fly. */
export const folderArchiveRoute = adminRoute<Params>(async ({ req, db, actor, params }) => {
  const input = browsePathInput.parse({ backup_id: params.id, ...query(req, "path") });
  const { stream, name } = await openBackupFolderArchive({ db, config: getConfig(), id: input.backup_id, path: input.path, actor });
  return new Response(Readable.toWeb(stream) as ReadableStream, {
    headers: { ...downloadHeaders, "Content-Type": "application/gzip", "Content-Disposition": attachment(name) },
  });
});

export const getOnly = methodNotAllowed("GET");
export const postOnly = methodNotAllowed("POST");
