"use client";
/** Errors in a page of the signed-in area: shown inside the app's frame, navigation intact. */
import { ErrorView } from "@/app/_components/error-view";

export default function AppErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return <ErrorView error={error} reset={reset} />;
}
