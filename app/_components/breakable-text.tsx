/**
 * Text that wraps only at separators: file names, action codes, paths. Each "_", ".", "-"
 * or "/" is followed by a <wbr>, so a narrow screen breaks `backup_20261201_030000.tar.gz`
 * after `backup_` or `.tar.`, never inside `20261201`. Copying and innerText are unchanged.
 */
import { Fragment } from "react";
import { breakableParts } from "@/lib/format";

export function BreakableText({ text }: { text: string }) {
  const parts = breakableParts(text);
  return (
    <>
      {parts.map((part, i) => (
        <Fragment key={i}>
          {part}
          {i < parts.length - 1 ? <wbr /> : null}
        </Fragment>
      ))}
    </>
  );
}
