/**
 * Which symlinks a backup may hold: the one rule shared by the writer (which leaves other
 * links out, so every archive it writes can be restored) and the restore's extractor
 * (which refuses archives holding other links).
 *
 * A target must be relative and, resolved from the link's folder, stay inside the link's
 * tree (files/ or config/). "" and "." segments are harmless; ".." is allowed only as a
 * prefix ("../../a/b"), never after a name ("a/../b"): after a name, ".." climbs out of
 * whatever that name turns out to be, and if it is another symlink, lexical containment no
 * longer implies containment on disk. With ".." only leading, every link lands on a real
 * folder inside the tree and only descends from there, so no chain of links can leave it.
 */

/**
 * Why a link target is not allowed, or null when it is. `folderDepth` is the number of
 * folders between the tree root and the link ("a/b/link" has 2).
 */
export function linkTargetProblem(target: string, folderDepth: number, maxPathBytes = 4096): string | null {
  if (target.length === 0) return "an empty target";
  if (target.includes("\u0000")) return "a target with a NUL byte";
  if (Buffer.byteLength(target, "utf8") > maxPathBytes) return `a target longer than ${maxPathBytes} bytes`;
  if (target.startsWith("/")) return "an absolute path; only relative links inside the backup are allowed";
  if (/^[A-Za-z]:/.test(target)) return "a path with a drive letter";
  if (target.includes("\\")) return "a path with a backslash";
  let ups = 0;
  let sawName = false;
  for (const segment of target.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (sawName) return 'a path with ".." after a folder name; only leading "../" is allowed';
      ups++;
      if (ups > folderDepth) return "which is outside the backed-up folder";
    } else {
      sawName = true;
    }
  }
  return null;
}
