/**
 * GET/HEAD /api/backups/{id}/download, as a Pages API route on purpose.
 *
 * Next 16's App Router drops `Content-Length` (and `Transfer-Encoding`) from every route
 * handler's Response (FORBIDDEN_HEADERS in next/dist/server/send-response.js, no config
 * switch) and streams it chunked, so browsers and curl showed no size or ETA and could not
 * tell a truncated download from a complete one. A Pages API route gets Node's own
 * response, which keeps the length we set. Everything else stays in the web-standard
 * handler (server/http/backup-download.ts); this file only bridges the two.
 */
import type { NextApiRequest, NextApiResponse } from "next";
import { getServerSession } from "next-auth";
import { getAuthOptions } from "@/server/auth/options";
import { downloadBackupRoute } from "@/server/http/backup-download";
import { sendWebResponse, webRequestFromNode } from "@/server/http/node-bridge";

// No body parsing (the route reads none) and no 4 MB response warning (archives are large).
export const config = { api: { bodyParser: false, responseLimit: false } };

export default async function handler(req: NextApiRequest, res: NextApiResponse): Promise<void> {
  const response = await downloadBackupRoute(
    webRequestFromNode(req),
    { params: Promise.resolve({ id: String(req.query.id) }) },
    { readSession: () => getServerSession(req, res, getAuthOptions()) },
  );
  await sendWebResponse(req, res, response);
}
