/**
 * The OpenAPI part for browsing a backup and restoring selected paths (spread into the
 * document by openapi.ts), generated from the zod contract the routes validate with.
 */
import type { z } from "zod";
import {
  folderDiffSchema,
  folderPageSchema,
  restorePathsInput,
  restorePathsPlanInput,
  restorePathsPlanSchema,
  restorePathsResultSchema,
  searchResultSchema,
  userFoldersSchema,
} from "../backup/browse/contract";

type SchemaOf = (s: z.ZodType, io?: "input" | "output") => Record<string, unknown>;
type ErrorsOf = (...codes: number[]) => Record<string, unknown>;

const ref = (name: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${name}` } } });
const idParam = { name: "id", in: "path", required: true, schema: { type: "integer", minimum: 1 } };
const pathParam = (description: string, required = false) => ({ name: "path", in: "query", required, schema: { type: "string", maxLength: 4096 }, description });
const PATH_RULES =
  "Paths are relative to the backup (files/…, config/…, database/baluhost.db; empty for the top), never filesystem paths: absolute paths, `..`, `.`, `//`, NUL and backslashes are refused (400); a path not in the backup is a 404.";

export function browseSchemas(schema: SchemaOf) {
  return {
    FolderPage: schema(folderPageSchema),
    SearchResult: schema(searchResultSchema),
    FolderDiff: schema(folderDiffSchema),
    UserFolders: schema(userFoldersSchema),
    RestorePathsPlanRequest: schema(restorePathsPlanInput.omit({ backup_id: true }), "input"),
    RestorePathsRequest: schema(restorePathsInput.omit({ backup_id: true }), "input"),
    RestorePathsPlan: schema(restorePathsPlanSchema),
    RestorePathsResult: schema(restorePathsResultSchema),
  };
}

export function browsePaths(errors: ErrorsOf) {
  return {
    "/api/backups/{id}/tree": {
      parameters: [idParam],
      get: {
        summary: "One page of a folder of the backup as it was (an incremental shows the full tree, resolved through its chain)",
        description: `Folders first, then by name. ${PATH_RULES}`,
        parameters: [
          pathParam("the folder (default: the top)"),
          { name: "offset", in: "query", required: false, schema: { type: "integer", minimum: 0, default: 0 } },
          { name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 1000, default: 200 } },
        ],
        responses: { 200: { description: "The page", content: ref("FolderPage") }, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    "/api/backups/{id}/tree/search": {
      parameters: [idParam],
      get: {
        summary: "Paths of the backup containing a text, shortest first",
        parameters: [
          { name: "q", in: "query", required: true, schema: { type: "string", minLength: 1, maxLength: 500 } },
          { name: "under", in: "query", required: false, schema: { type: "string" }, description: "only below this folder" },
          { name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 1000, default: 200 } },
        ],
        responses: { 200: { description: "Matches", content: ref("SearchResult") }, ...errors(400, 401, 403, 404, 422) },
      },
    },
    "/api/backups/{id}/tree/diff": {
      parameters: [idParam],
      get: {
        summary: "One folder of the backup against the live data: added, changed (size or modification time), deleted since the backup",
        parameters: [
          pathParam("the folder, under files/ or config/"),
          { name: "hash", in: "query", required: false, schema: { type: "string", enum: ["1", "0", "true", "false"] }, description: "compare same-size files whose time differs by SHA-256" },
        ],
        responses: { 200: { description: "The comparison", content: ref("FolderDiff") }, ...errors(400, 401, 403, 404, 422) },
      },
    },
    "/api/backups/{id}/tree/users": {
      parameters: [idParam],
      get: {
        summary: "Users of this installation with a storage folder (files/<username>) in the backup",
        responses: { 200: { description: "Their folders", content: ref("UserFolders") }, ...errors(400, 401, 403, 404, 422) },
      },
    },
    "/api/backups/{id}/file": {
      parameters: [idParam],
      get: {
        summary: "Download one file of the backup, read straight out of the archive (Content-Length from the manifest)",
        description: `Checked against the manifest's SHA-256 while it streams (also sent as X-Content-SHA256); a damaged archive ends the download early. ${PATH_RULES}`,
        parameters: [pathParam("the file", true)],
        responses: {
          200: { description: "The file", content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } },
          ...errors(400, 401, 403, 404, 405, 422),
        },
      },
      head: { summary: "The file's headers without the body", parameters: [pathParam("the file", true)], responses: { 200: { description: "As GET, without the body" } } },
    },
    "/api/backups/{id}/folder": {
      parameters: [idParam],
      get: {
        summary: "Download a folder of the backup as a .tar.gz built on the fly (no Content-Length)",
        parameters: [pathParam("the folder (default: everything)")],
        responses: {
          200: { description: "The folder as .tar.gz", content: { "application/gzip": { schema: { type: "string", format: "binary" } } } },
          ...errors(400, 401, 403, 404, 405, 422),
        },
      },
    },
    "/api/backups/{id}/restore-paths/plan": {
      parameters: [idParam],
      post: {
        summary: "What restoring the selected paths would do (nothing is changed): counts and the current versions it would replace",
        requestBody: { required: true, content: ref("RestorePathsPlanRequest") },
        responses: { 200: { description: "The plan", content: ref("RestorePathsPlan") }, ...errors(400, 401, 403, 404, 409, 415, 422) },
      },
    },
    "/api/backups/{id}/restore-paths": {
      parameters: [idParam],
      post: {
        summary: "Restore selected paths of the storage (files/…) to where they were or into a folder (confirm: true required)",
        description:
          "Only the selected paths are touched. Staged on the storage volume, each file checked against the manifest (size, SHA-256) and " +
          "put in place with one rename. A current version that differs is kept beside it as `name (before restore YYYY-MM-DD).ext` unless " +
          "overwrite is true. Takes the operation lock (409 while a backup or restore runs); audited with the paths. " +
          PATH_RULES,
        requestBody: { required: true, content: ref("RestorePathsRequest") },
        responses: { 200: { description: "Restored", content: ref("RestorePathsResult") }, ...errors(400, 401, 403, 404, 409, 415, 422, 507) },
      },
    },
  };
}
