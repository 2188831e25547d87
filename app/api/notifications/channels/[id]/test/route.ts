/** REST: POST /api/notifications/channels/{id}/test — sends a test message now: 200 {ok, error, duration_ms}. */
import { channelIdSchema } from "@/server/backup/notify/channels";
import { sendTestNotification } from "@/server/backup/notify/sender";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const POST = adminRoute<{ id: string }>(async ({ db, actor, params }) =>
  Response.json(await sendTestNotification({ db, config: getConfig(), actor, channelId: channelIdSchema.parse(params.id) })),
);

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
