/**
 * Browsing a backup and restoring selected paths over tRPC. Each procedure validates, calls
 * the browse engine (server/backup/browse) and maps its result to the shared contract.
 * Downloads are REST only (GET /api/backups/{id}/file and /folder): tRPC does not stream bytes.
 */
import { diffBackupFolder, listBackupFolder, listUserFolders, searchBackup } from "../../backup/browse/browse";
import {
  browseDiffInput,
  browseListInput,
  browseSearchInput,
  folderDiffSchema,
  folderPageSchema,
  restorePathsInput,
  restorePathsPlanInput,
  restorePathsPlanSchema,
  restorePathsResultSchema,
  searchResultSchema,
  toFolderDiff,
  toFolderPage,
  toRestorePathsPlan,
  toRestorePathsResult,
  toRestoreRequest,
  toTreeEntry,
  userFoldersSchema,
  toUserFolders,
} from "../../backup/browse/contract";
import { planRestorePaths, restorePaths } from "../../backup/browse/restore-paths";
import { backupIdSchema } from "../../backup/contract";
import { getConfig } from "../../config";
import { z } from "zod";
import { adminProcedure, createTRPCRouter } from "../trpc";

export const browseRouter = createTRPCRouter({
  /** One page of a folder of the backup as it was (through its chain), folders first. */
  list: adminProcedure
    .input(browseListInput)
    .output(folderPageSchema)
    .query(async ({ ctx, input }) =>
      toFolderPage(input.backup_id, await listBackupFolder({ db: ctx.db, config: getConfig(), id: input.backup_id, path: input.path, offset: input.offset, limit: input.limit })),
    ),

  /** Paths containing the text, shortest first. */
  search: adminProcedure
    .input(browseSearchInput)
    .output(searchResultSchema)
    .query(async ({ ctx, input }) => {
      const entries = await searchBackup({ db: ctx.db, config: getConfig(), id: input.backup_id, query: input.query, under: input.under, limit: input.limit });
      return { backup_id: input.backup_id, query: input.query, entries: entries.map(toTreeEntry) };
    }),

  /** One folder of the backup against the live data: added, changed, deleted since the backup. */
  diff: adminProcedure
    .input(browseDiffInput)
    .output(folderDiffSchema)
    .query(async ({ ctx, input }) =>
      toFolderDiff(input.backup_id, await diffBackupFolder({ db: ctx.db, config: getConfig(), id: input.backup_id, path: input.path, hash: input.hash })),
    ),

  /** The users of this installation with a storage folder (files/<username>) in the backup. */
  users: adminProcedure
    .input(z.object({ backup_id: backupIdSchema }))
    .output(userFoldersSchema)
    .query(async ({ ctx, input }) => toUserFolders(input.backup_id, await listUserFolders({ db: ctx.db, config: getConfig(), id: input.backup_id }))),

  /**
   * What restoring the paths would do: counts, and the current versions it would replace.
   * Changes nothing; a mutation only because its input (up to 1,000 paths) does not fit in a URL.
   */
  restorePlan: adminProcedure
    .input(restorePathsPlanInput)
    .output(restorePathsPlanSchema)
    .mutation(async ({ ctx, input }) => toRestorePathsPlan(await planRestorePaths({ db: ctx.db, config: getConfig(), ...toRestoreRequest(input) }))),

  /** Restores the paths (confirm: true); answers when done. */
  restore: adminProcedure
    .input(restorePathsInput)
    .output(restorePathsResultSchema)
    .mutation(async ({ ctx, input }) =>
      toRestorePathsResult(await restorePaths({ db: ctx.db, config: getConfig(), actor: ctx.actor, ...toRestoreRequest(input) })),
    ),
});
