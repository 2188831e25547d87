"use client";
/**
 * Browsing a backup and taking back only what was lost. The tree is the backup's as it was
 * (an incremental shows everything, through its chain), one folder at a time, a page of
 * PAGE entries at a time from the server (`browse.list`): a backup of 300,000 files never
 * comes to the browser whole. A search box looks over every path; "Compare with current
 * files" marks each entry of the open folder added / changed / deleted since the backup.
 * Files download straight out of the archive, folders as a .tar.gz.
 *
 * Ticked files and folders of the storage are restored in a second step: where they were
 * (what would be replaced is listed first, with the name each current version is kept
 * under) or into a folder, `restored/backup_…` by default.
 */
import { useEffect, useState, type FormEvent } from "react";
import { Badge } from "@/app/_components/badge";
import { BreakableText } from "@/app/_components/breakable-text";
import { Button, buttonClassName } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { Dialog } from "@/app/_components/dialog";
import { TextField } from "@/app/_components/field";
import { ArrowLeftIcon, DownloadIcon, FolderIcon, RotateCcwIcon, SearchIcon, UserIcon } from "@/app/_components/icons";
import { Spinner } from "@/app/_components/spinner";
import { trpc, type RouterOutputs } from "@/app/_trpc/client";
import { errorMessage } from "@/app/_trpc/errors";
import { formatBytes, formatCount, formatDate } from "@/lib/format";
import type { BackupRecord } from "./backup-labels";
import styles from "./backup.module.css";

const PAGE = 200;

type Entry = RouterOutputs["browse"]["list"]["entries"][number];
type DiffStatus = RouterOutputs["browse"]["diff"]["entries"][number]["status"];

const STATUS_BADGE: Record<Exclude<DiffStatus, "same">, { label: string; tone: "success" | "warning" | "danger" }> = {
  added: { label: "New since", tone: "success" },
  changed: { label: "Changed since", tone: "warning" },
  deleted: { label: "Deleted since", tone: "danger" },
};

const restorable = (p: string) => p === "files" || p.startsWith("files/");

function downloadHref(backupId: number, e: { path: string; type: string }): string {
  const kind = e.type === "dir" ? "folder" : "file";
  return `/api/backups/${backupId}/${kind}?path=${encodeURIComponent(e.path)}`;
}

/** Mount with a `key` per backup. */
export function BrowseDialog({ backup, onClose, onRestored }: { backup: BackupRecord; onClose: () => void; onRestored: () => void }) {
  const [folder, setFolder] = useState(backup.includes_files ? "files" : "");
  const [pages, setPages] = useState(1);
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const [compare, setCompare] = useState(false);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [step, setStep] = useState<"browse" | "restore">("browse");

  const open = (p: string) => {
    setFolder(p);
    setPages(1);
    setQuery("");
    setSearch("");
  };
  const toggle = (p: string, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(p);
    else next.delete(p);
    setSelected(next);
  };

  if (step === "restore") {
    return (
      <RestoreSelection
        backup={backup}
        paths={[...selected].sort()}
        onBack={() => setStep("browse")}
        onClose={onClose}
        onRestored={onRestored}
      />
    );
  }

  const onSearch = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setQuery(search.trim());
  };

  return (
    <Dialog
      open
      onOpenChange={(o) => !o && onClose()}
      size="lg"
      title={`Browse ${backup.filename}`}
      description="The files as they were in this backup. Tick files or folders of the storage to restore just those, or download them."
      footer={
        <>
          <span className={styles.browseSelected} data-testid="browse-selected">
            {selected.size === 0 ? "Nothing selected" : `${formatCount(selected.size)} selected`}
          </span>
          <Button onClick={onClose}>Close</Button>
          <Button variant="primary" icon={<RotateCcwIcon size={14} />} disabled={selected.size === 0} onClick={() => setStep("restore")}>
            Restore selected…
          </Button>
        </>
      }
    >
      <div className={styles.browseTools}>
        <form role="search" onSubmit={onSearch} className={styles.browseSearch}>
          <TextField label="Search paths" hideLabel placeholder="Search every path in the backup" value={search} onChange={(e) => setSearch(e.target.value)} />
          <Button type="submit" icon={<SearchIcon size={14} />}>
            Search
          </Button>
          {query ? <Button onClick={() => { setQuery(""); setSearch(""); }}>Clear</Button> : null}
        </form>
        <label className={styles.browseCompare}>
          <input type="checkbox" checked={compare} onChange={(e) => setCompare(e.target.checked)} /> Compare with current files
        </label>
      </div>
      {backup.includes_files ? <UserShortcuts backup={backup} onPick={(p) => setSelected(new Set([...selected, p]))} /> : null}
      {query ? (
        <SearchResults backup={backup} query={query} selected={selected} toggle={toggle} openFolder={open} />
      ) : (
        <>
          <Breadcrumbs folder={folder} onOpen={open} />
          <FolderListing
            backup={backup}
            folder={folder}
            pages={pages}
            onMore={() => setPages(pages + 1)}
            compare={compare}
            selected={selected}
            toggle={toggle}
            openFolder={open}
          />
        </>
      )}
    </Dialog>
  );
}

function Breadcrumbs({ folder, onOpen }: { folder: string; onOpen: (p: string) => void }) {
  const parts = folder === "" ? [] : folder.split("/");
  return (
    <nav aria-label="Folder" className={styles.breadcrumbs} data-testid="browse-breadcrumbs">
      <Button size="sm" variant="ghost" onClick={() => onOpen("")} disabled={folder === ""}>
        Backup
      </Button>
      {parts.map((name, i) => {
        const p = parts.slice(0, i + 1).join("/");
        return (
          <span key={p} className={styles.crumb}>
            <span aria-hidden="true">/</span>
            <Button size="sm" variant="ghost" onClick={() => onOpen(p)} disabled={p === folder} aria-current={p === folder ? "location" : undefined}>
              {i === 0 && name === "files" ? "Storage" : name}
            </Button>
          </span>
        );
      })}
    </nav>
  );
}

function UserShortcuts({ backup, onPick }: { backup: BackupRecord; onPick: (p: string) => void }) {
  const users = trpc.browse.users.useQuery({ backup_id: backup.id }, { staleTime: 60_000, retry: false });
  if (!users.data || users.data.users.length === 0) return null;
  return (
    <div className={styles.browseUsers}>
      <span className="muted">A user&apos;s files:</span>
      {users.data.users.map((u) => (
        <Button key={u.username} size="sm" icon={<UserIcon size={14} />} onClick={() => onPick(u.path)} title={`Select ${u.path} (${formatCount(u.files)} files, ${formatBytes(u.bytes)})`}>
          Select {u.username}
        </Button>
      ))}
    </div>
  );
}

function FolderListing(props: {
  backup: BackupRecord;
  folder: string;
  pages: number;
  onMore: () => void;
  compare: boolean;
  selected: ReadonlySet<string>;
  toggle: (p: string, on: boolean) => void;
  openFolder: (p: string) => void;
}) {
  const { backup, folder, pages, compare } = props;
  const list = trpc.browse.list.useQuery({ backup_id: backup.id, path: folder, offset: 0, limit: PAGE * pages }, { placeholderData: (prev) => prev, retry: false });
  const diffable = compare && (folder === "files" || folder.startsWith("files/") || folder === "config" || folder.startsWith("config/"));
  const diff = trpc.browse.diff.useQuery({ backup_id: backup.id, path: folder }, { enabled: diffable, retry: false });
  if (list.error) return <Callout tone="danger" title="The backup could not be read">{errorMessage(list.error)}</Callout>;
  if (!list.data) return <p className="muted"><Spinner size={12} /> Reading the backup… (the first time, its index is built)</p>;
  const status = new Map((diff.data?.entries ?? []).map((e) => [e.name, e]));
  const added = (diff.data?.entries ?? []).filter((e) => e.status === "added");
  const shown = list.data.entries.length;
  return (
    <>
      {diffable && diff.data ? (
        <p className="muted" data-testid="browse-diff-summary">
          Since the backup: {formatCount(diff.data.counts.changed)} changed, {formatCount(diff.data.counts.deleted)} deleted,{" "}
          {formatCount(diff.data.counts.added)} new{diff.data.live_exists ? "" : " (this folder no longer exists)"}.
        </p>
      ) : null}
      <EntryTable {...props} entries={list.data.entries} status={status} parentRow={folder !== "" ? folder : null} />
      {diffable && added.length > 0 ? (
        <p className="muted">New since the backup (not in it): {added.map((e) => e.name).join(", ")}</p>
      ) : null}
      <div className="table-footer">
        <span>
          Showing {formatCount(shown)} of {formatCount(list.data.total)}
        </span>
        {shown < list.data.total ? <Button onClick={props.onMore}>Show {formatCount(Math.min(PAGE, list.data.total - shown))} more</Button> : null}
      </div>
    </>
  );
}

function SearchResults(props: { backup: BackupRecord; query: string; selected: ReadonlySet<string>; toggle: (p: string, on: boolean) => void; openFolder: (p: string) => void }) {
  const found = trpc.browse.search.useQuery({ backup_id: props.backup.id, query: props.query, limit: PAGE }, { retry: false });
  if (found.error) return <Callout tone="danger" title="The search failed">{errorMessage(found.error)}</Callout>;
  if (!found.data) return <p className="muted"><Spinner size={12} /> Searching…</p>;
  if (found.data.entries.length === 0) return <p className="muted">No path in this backup contains “{props.query}”.</p>;
  return (
    <>
      <EntryTable {...props} entries={found.data.entries} status={new Map()} parentRow={null} showPath />
      <p className="muted">{found.data.entries.length >= PAGE ? `The first ${PAGE} matches, shortest paths first.` : `${found.data.entries.length} matches.`}</p>
    </>
  );
}

function EntryTable({
  backup,
  entries,
  status,
  selected,
  toggle,
  openFolder,
  parentRow,
  showPath = false,
}: {
  backup: BackupRecord;
  entries: Entry[];
  status: Map<string, { status: DiffStatus }>;
  selected: ReadonlySet<string>;
  toggle: (p: string, on: boolean) => void;
  openFolder: (p: string) => void;
  parentRow: string | null;
  showPath?: boolean;
}) {
  const parent = parentRow === null ? null : parentRow.includes("/") ? parentRow.slice(0, parentRow.lastIndexOf("/")) : "";
  return (
    <div className="table-wrap">
      <table className={`table ${styles.browseTable}`} data-testid="browse-table">
        <caption className="visually-hidden">Contents</caption>
        <thead>
          <tr>
            <th scope="col">
              <span className="visually-hidden">Select</span>
            </th>
            <th scope="col">Name</th>
            <th scope="col">Size</th>
            <th scope="col">Modified</th>
            <th scope="col">
              <span className="visually-hidden">Download</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {parent !== null ? (
            <tr>
              <td />
              <td colSpan={4}>
                <Button size="sm" variant="ghost" icon={<ArrowLeftIcon size={14} />} onClick={() => openFolder(parent)}>
                  Up
                </Button>
              </td>
            </tr>
          ) : null}
          {entries.map((e) => {
            const diff = status.get(e.name)?.status;
            const badge = diff && diff !== "same" ? STATUS_BADGE[diff] : null;
            const label = showPath ? e.path : e.name;
            return (
              <tr key={e.path} data-testid="browse-row" data-path={e.path}>
                <td>
                  {restorable(e.path) ? (
                    <input
                      type="checkbox"
                      aria-label={`Select ${e.path}`}
                      checked={selected.has(e.path)}
                      onChange={(ev) => toggle(e.path, ev.target.checked)}
                    />
                  ) : null}
                </td>
                <td className={styles.browseName}>
                  {e.type === "dir" ? (
                    <Button size="sm" variant="ghost" icon={<FolderIcon size={14} />} onClick={() => openFolder(e.path)} aria-label={`Open folder ${label}`}>
                      <BreakableText text={label} />
                    </Button>
                  ) : (
                    <span className="mono">
                      <BreakableText text={e.type === "symlink" ? `${label} → ${e.link_target ?? ""}` : label} />
                    </span>
                  )}
                  {badge ? (
                    <Badge tone={badge.tone} dot>
                      {badge.label}
                    </Badge>
                  ) : null}
                </td>
                <td className="nowrap">{e.type === "file" ? formatBytes(e.size) : <span className="muted">–</span>}</td>
                <td className="nowrap">{e.mtime !== null ? formatDate(e.mtime, { time: true }) : <span className="muted">–</span>}</td>
                <td>
                  {e.type !== "symlink" ? (
                    <a
                      href={downloadHref(backup.id, e)}
                      className={buttonClassName({ variant: "ghost", size: "sm", iconOnly: true })}
                      aria-label={e.type === "dir" ? `Download folder ${label} as .tar.gz` : `Download ${label}`}
                      title={e.type === "dir" ? "Download as .tar.gz" : "Download"}
                    >
                      <DownloadIcon size={14} />
                    </a>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function RestoreSelection({
  backup,
  paths,
  onBack,
  onClose,
  onRestored,
}: {
  backup: BackupRecord;
  paths: string[];
  onBack: () => void;
  onClose: () => void;
  onRestored: () => void;
}) {
  const [destination, setDestination] = useState<"original" | "folder">("original");
  const [folder, setFolder] = useState(`restored/${backup.filename.replace(/\.tar\.gz$/, "")}`);
  const [overwrite, setOverwrite] = useState(false);
  const input = { backup_id: backup.id, paths, destination, folder: destination === "folder" ? folder : undefined, overwrite: destination === "original" && overwrite };
  // A mutation (the paths do not fit in a URL), asked again whenever the choices change.
  const plan = trpc.browse.restorePlan.useMutation();
  const planKey = JSON.stringify(input);
  useEffect(() => {
    const timer = setTimeout(() => plan.mutate(JSON.parse(planKey) as typeof input), 250);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [planKey]);
  const restore = trpc.browse.restore.useMutation({ onSuccess: onRestored });
  const running = restore.isPending;

  if (restore.data) {
    const r = restore.data;
    return (
      <Dialog open onOpenChange={(o) => !o && onClose()} size="md" title="Restored" footer={<Button variant="primary" onClick={onClose} autoFocus>Close</Button>}>
        <p data-testid="browse-restore-done">
          Restored {formatCount(r.restored_files)} {r.restored_files === 1 ? "file" : "files"} ({formatBytes(r.bytes)}) {r.root === "" ? "to where they were" : <>into <span className="mono">{r.root}</span></>}.
          {r.unchanged_count > 0 ? ` ${formatCount(r.unchanged_count)} were already identical.` : ""}
        </p>
        {r.kept.length > 0 ? (
          <>
            <p>The current versions it replaced were kept:</p>
            <ul className={styles.browseList}>
              {r.kept.map((k) => (
                <li key={k.kept_as} className="mono">
                  <BreakableText text={k.kept_as} />
                </li>
              ))}
            </ul>
          </>
        ) : null}
      </Dialog>
    );
  }

  return (
    <Dialog
      open
      onOpenChange={(o) => !o && onClose()}
      size="md"
      busy={running}
      title={`Restore ${formatCount(paths.length)} selected ${paths.length === 1 ? "item" : "items"}`}
      description="Only the selected files and folders are restored; everything else stays as it is."
      footer={
        <>
          <Button onClick={onBack} disabled={running} icon={<ArrowLeftIcon size={14} />}>
            Back
          </Button>
          <Button
            variant="primary"
            icon={<RotateCcwIcon size={14} />}
            loading={running}
            disabled={!plan.data || running}
            onClick={() => restore.mutate({ ...input, confirm: true })}
          >
            {running ? "Restoring…" : "Restore"}
          </Button>
        </>
      }
    >
      <ul className={styles.browseList} data-testid="browse-restore-paths">
        {paths.map((p) => (
          <li key={p} className="mono">
            <BreakableText text={p} />
          </li>
        ))}
      </ul>
      <fieldset className={styles.choices}>
        <legend>Restore to</legend>
        <label className={styles.checkbox}>
          <input type="radio" name="destination" checked={destination === "original"} onChange={() => setDestination("original")} />
          <span>Where they were (the original location)</span>
        </label>
        <label className={styles.checkbox}>
          <input type="radio" name="destination" checked={destination === "folder"} onChange={() => setDestination("folder")} />
          <span>Into a folder in the storage</span>
        </label>
      </fieldset>
      {destination === "folder" ? (
        <TextField label="Folder" hint="Inside the storage; created if needed." value={folder} onChange={(e) => setFolder(e.target.value)} />
      ) : (
        <label className={styles.checkbox}>
          <input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} />
          <span>Overwrite the current versions instead of keeping them as “name (before restore DATE).ext”</span>
        </label>
      )}
      {plan.error ? <Callout tone="danger" title="This cannot be restored">{errorMessage(plan.error)}</Callout> : null}
      {plan.data ? (
        <div data-testid="browse-restore-plan">
          <p>
            {formatCount(plan.data.files)} {plan.data.files === 1 ? "file" : "files"}, {formatBytes(plan.data.bytes)}
            {plan.data.unchanged_count > 0 ? ` (${formatCount(plan.data.unchanged_count)} already identical, left alone)` : ""}.
          </p>
          {plan.data.overwrite_count === 0 ? (
            <p className="muted">Nothing current is replaced.</p>
          ) : (
            <>
              <p>
                {formatCount(plan.data.overwrite_count)} current {plan.data.overwrite_count === 1 ? "version is" : "versions are"} replaced:
              </p>
              <ul className={styles.browseList}>
                {plan.data.overwrites.map((o) => (
                  <li key={o.target}>
                    <span className="mono">
                      <BreakableText text={o.target} />
                    </span>
                    {o.newer ? (
                      <Badge tone="warning" title="The current version was changed after the backup">
                        newer now
                      </Badge>
                    ) : null}
                    <span className="cell-sub">{o.kept_as ? <>kept as <span className="mono">{o.kept_as}</span></> : "overwritten"}</span>
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      ) : plan.isPending ? (
        <p className="muted">
          <Spinner size={12} /> Checking what would be replaced…
        </p>
      ) : null}
      {restore.error ? <Callout tone="danger" title="Nothing more was restored">{errorMessage(restore.error)}</Callout> : null}
    </Dialog>
  );
}
