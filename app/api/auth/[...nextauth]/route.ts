import NextAuth from "next-auth";
import { getAuthOptions } from "@/server/auth/options";

export const dynamic = "force-dynamic";

type Segment = { params: Promise<{ nextauth: string[] }> };

// Options are built per request: the secret and database come from start-up, not import time.
async function handler(req: Request, segment: Segment) {
  return NextAuth(req as never, segment as never, getAuthOptions());
}

export { handler as GET, handler as POST };
