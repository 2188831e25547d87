/**
 * Notifications over tRPC (admins only): channels, test messages, alert settings, recent
 * deliveries and backup health. Each procedure validates, calls the notify services in
 * server/backup/notify/ (or health), and returns; no logic lives here.
 */
import { z } from "zod";
import { getConfig } from "../../config";
import { recordAudit } from "../../audit";
import { backupHealth, healthSchema } from "../../backup/health";
import { alertSettingsSchema, getAlertSettings, saveAlertSettings } from "../../backup/notify/alert-settings";
import {
  channelRecordSchema,
  createChannel,
  createChannelInput,
  listChannels,
  removeChannel,
  updateChannel,
  updateChannelInput,
} from "../../backup/notify/channels";
import { deliverySchema, listDeliveries, sendTestNotification, testResultSchema } from "../../backup/notify/sender";
import { adminProcedure, createTRPCRouter } from "../trpc";

const channelId = z.object({ id: z.number().int().positive() });

export const notifyRouter = createTRPCRouter({
  channels: adminProcedure.output(z.array(channelRecordSchema)).query(({ ctx }) => listChannels(ctx.db)),

  createChannel: adminProcedure
    .input(createChannelInput)
    .output(channelRecordSchema)
    .mutation(({ ctx, input }) => createChannel({ db: ctx.db, config: getConfig(), actor: ctx.actor, input })),

  /** Leave `secret` out to keep the saved one; `clear_secret: true` removes it. */
  updateChannel: adminProcedure
    .input(updateChannelInput)
    .output(channelRecordSchema)
    .mutation(({ ctx, input }) => updateChannel({ db: ctx.db, config: getConfig(), actor: ctx.actor, input })),

  removeChannel: adminProcedure
    .input(channelId)
    .output(z.object({ id: z.number(), name: z.string() }))
    .mutation(({ ctx, input }) => removeChannel({ db: ctx.db, config: getConfig(), actor: ctx.actor, id: input.id })),

  /** Sends a test message to the channel now and says whether it was accepted, or why not. */
  test: adminProcedure
    .input(channelId)
    .output(testResultSchema)
    .mutation(({ ctx, input }) => sendTestNotification({ db: ctx.db, config: getConfig(), actor: ctx.actor, channelId: input.id })),

  settings: adminProcedure.output(alertSettingsSchema).query(({ ctx }) => getAlertSettings(ctx.db)),

  updateSettings: adminProcedure
    .input(alertSettingsSchema)
    .output(alertSettingsSchema)
    .mutation(({ ctx, input }) => {
      const saved = saveAlertSettings(ctx.db, input);
      recordAudit(ctx.db, { action: "notify.settings", actor: ctx.actor, success: true, details: saved });
      return saved;
    }),

  /** The newest deliveries (queued, sent, failed), for the Notifications card. */
  deliveries: adminProcedure
    .input(z.object({ limit: z.number().int().min(1).max(200).default(20) }).default({ limit: 20 }))
    .output(z.array(deliverySchema))
    .query(({ ctx, input }) => listDeliveries(ctx.db, input.limit)),

  health: adminProcedure.output(healthSchema).query(({ ctx }) => backupHealth({ db: ctx.db, config: getConfig() })),
});
