/**
 * GET/HEAD /api/backups/{id}/file?path=…: one file of a backup, as a Pages API route for the
 * same reason as download.ts (the App Router drops Content-Length). The handler is
 * server/http/browse-routes.ts; this file only bridges Node's objects to it.
 */
import type { NextApiRequest, NextApiResponse } from "next";
import { getServerSession } from "next-auth";
import { getAuthOptions } from "@/server/auth/options";
import { backupFileRoute } from "@/server/http/browse-routes";
import { sendWebResponse, webRequestFromNode } from "@/server/http/node-bridge";

export const config = { api: { bodyParser: false, responseLimit: false } };

export default async function handler(req: NextApiRequest, res: NextApiResponse): Promise<void> {
  const response = await backupFileRoute(
    webRequestFromNode(req),
    { params: Promise.resolve({ id: String(req.query.id) }) },
    { readSession: () => getServerSession(req, res, getAuthOptions()) },
  );
  await sendWebResponse(req, res, response);
}
