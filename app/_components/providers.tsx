"use client";
/** Everything client components rely on, mounted once by the root layout. */
import type { ReactNode } from "react";
import { TRPCReactProvider } from "../_trpc/provider";
import { Toaster } from "./toaster";

export function Providers({ children }: { children: ReactNode }) {
  return (
    <TRPCReactProvider>
      {children}
      <Toaster />
    </TRPCReactProvider>
  );
}
