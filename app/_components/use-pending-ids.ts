"use client";
/**
 * Which rows have an action in flight (verifying, cancelling, testing, running now), so
 * each row's button shows its own spinner while others stay usable. `track(id, work)`
 * marks the id until the promise settles, whatever its outcome.
 */
import { useCallback, useState } from "react";

export function usePendingIds(): { pending: ReadonlySet<number>; track: <T>(id: number, work: Promise<T>) => Promise<T> } {
  const [pending, setPending] = useState<ReadonlySet<number>>(new Set());
  const track = useCallback(<T,>(id: number, work: Promise<T>): Promise<T> => {
    setPending((s) => new Set(s).add(id));
    return work.finally(() =>
      setPending((s) => {
        const next = new Set(s);
        next.delete(id);
        return next;
      }),
    );
  }, []);
  return { pending, track };
}
