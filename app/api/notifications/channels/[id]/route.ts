/** REST: GET, PATCH (leave `secret` out to keep it) and DELETE (204) /api/notifications/channels/{id}. */
import { channelIdSchema, getChannelRow, removeChannel, toChannelRecord, updateChannel, updateChannelInput } from "@/server/backup/notify/channels";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

type Params = { id: string };

export const GET = adminRoute<Params>(({ db, params }) => Response.json(toChannelRecord(getChannelRow(db, channelIdSchema.parse(params.id)))));

export const PATCH = adminRoute<Params>(async ({ req, db, actor, params }) => {
  const body = await readJsonBody(req);
  const input = updateChannelInput.parse({ ...(typeof body === "object" && body ? body : {}), id: channelIdSchema.parse(params.id) });
  return Response.json(await updateChannel({ db, config: getConfig(), actor, input }));
});

export const DELETE = adminRoute<Params>(async ({ db, actor, params }) => {
  await removeChannel({ db, config: getConfig(), actor, id: channelIdSchema.parse(params.id) });
  return new Response(null, { status: 204 });
});

const refused = methodNotAllowed("GET", "PATCH", "DELETE");
export { refused as POST, refused as PUT };
