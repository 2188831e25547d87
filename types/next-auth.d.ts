import type { UserRole } from "@/db/schema";

declare module "next-auth" {
  interface Session {
    user?: { id: number; name: string; role: UserRole };
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    uid?: number;
  }
}
