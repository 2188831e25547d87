/**
 * next-auth v4 configuration: a credentials login backed by attemptLogin, JWT sessions,
 * and a session callback that re-reads the user from the database on every request so a
 * demoted or deleted admin loses access at once, whatever the cookie says.
 */
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { getDb } from "@/db/client";
import { getConfig, resolveAuthSecret } from "../config";
import { ensureStarted } from "../startup";
import { findUserById } from "../users";
import { attemptLogin } from "./login";
import { clientIpFromHeaders } from "./headers";

export function getAuthOptions(): NextAuthOptions {
  ensureStarted();
  // A NAS is reached by whatever name or address the LAN gives it: without NEXTAUTH_URL,
  // let next-auth build its URLs from the request's host instead of localhost:3000.
  process.env.AUTH_TRUST_HOST ??= "true";
  return {
    secret: resolveAuthSecret(getConfig()),
    session: { strategy: "jwt", maxAge: 12 * 60 * 60 },
    pages: { signIn: "/login" },
    providers: [
      CredentialsProvider({
        name: "Password",
        credentials: {
          username: { label: "Username", type: "text" },
          password: { label: "Password", type: "password" },
        },
        async authorize(credentials, req) {
          const headers = new Headers();
          for (const [key, value] of Object.entries(req?.headers ?? {})) {
            if (typeof value === "string") headers.set(key, value);
          }
          const result = attemptLogin(getDb(), {
            username: String(credentials?.username ?? ""),
            password: String(credentials?.password ?? ""),
            ip: clientIpFromHeaders(headers),
            userAgent: headers.get("user-agent"),
          });
          // next-auth passes a thrown message to the login form as result.error.
          if (!result.ok) throw new Error(result.message);
          return { id: String(result.user.id), name: result.user.username };
        },
      }),
    ],
    callbacks: {
      jwt({ token, user }) {
        if (user) token.uid = Number(user.id);
        return token;
      },
      session({ session, token }) {
        const found = typeof token.uid === "number" ? findUserById(getDb(), token.uid) : undefined;
        // The id must still name the same account: after a restore an id may belong to someone else.
        const user = found && found.username === token.name ? found : undefined;
        if (!user) return { ...session, user: undefined };
        return { ...session, user: { id: user.id, name: user.username, role: user.role } };
      },
    },
  };
}
