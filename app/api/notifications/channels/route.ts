/** REST: GET /api/notifications/channels (list) and POST (create, 201). Secrets are accepted, never returned. */
import { createChannel, createChannelInput, listChannels } from "@/server/backup/notify/channels";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const GET = adminRoute(({ db }) => Response.json({ channels: listChannels(db) }));

export const POST = adminRoute(async ({ req, db, actor }) => {
  const input = createChannelInput.parse(await readJsonBody(req));
  const created = await createChannel({ db, config: getConfig(), actor, input });
  return Response.json(created, { status: 201, headers: { Location: `/api/notifications/channels/${created.id}` } });
});

const refused = methodNotAllowed("GET", "POST");
export { refused as PUT, refused as PATCH, refused as DELETE };
