"use client";
/**
 * Creating, listing and revoking API tokens. A new token's secret comes back from the
 * server once; it is shown in a copy box until the admin dismisses it and is never
 * fetched again (the server keeps only a hash).
 */
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Badge } from "@/app/_components/badge";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { CopyField } from "@/app/_components/copy-field";
import { DateTime, RelativeTime, useHydrated } from "@/app/_components/date-time";
import { ConfirmDialog } from "@/app/_components/dialog";
import { EmptyState } from "@/app/_components/empty-state";
import { SelectField, TextField } from "@/app/_components/field";
import { BanIcon, KeyIcon, PlusIcon } from "@/app/_components/icons";
import { Card } from "@/app/_components/layout-parts";
import { QueryError } from "@/app/_components/query-error";
import { Spinner } from "@/app/_components/spinner";
import { toast } from "@/app/_components/toaster";
import { trpc, type RouterOutputs } from "@/app/_trpc/client";
import { errorMessage, fieldError } from "@/app/_trpc/errors";

type TokenSummary = RouterOutputs["tokens"]["list"][number];
type CreatedToken = RouterOutputs["tokens"]["create"];

/** The base address for examples: the real one in the browser, a placeholder on the server. */
function useBaseUrl(): string {
  const hydrated = useHydrated();
  return hydrated ? window.location.origin : "http://host:3000";
}

type Scope = TokenSummary["scope"];

function curlExample(baseUrl: string, token: string, scope: Scope = "full"): string {
  return `curl -H "Authorization: Bearer ${token}" ${baseUrl}${scope === "monitoring" ? "/api/health/backups" : "/api/backups"}`;
}

const SCOPE_HINTS: Record<Scope, string> = {
  full: "Acts as you everywhere: backups, restores, settings.",
  monitoring: "Reads only backup health and metrics (/api/health/backups, /api/metrics): for Prometheus or an uptime checker.",
};

export function TokenManager() {
  const utils = trpc.useUtils();
  const list = trpc.tokens.list.useQuery();
  const [name, setName] = useState("");
  const [scope, setScope] = useState<Scope>("full");
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [toRevoke, setToRevoke] = useState<TokenSummary | null>(null);

  const create = trpc.tokens.create.useMutation({
    onSuccess: (token) => {
      setCreated(token);
      setName("");
      setScope("full");
      toast.success(`Token “${token.name}” created`);
      void utils.tokens.list.invalidate();
    },
  });

  const revoke = trpc.tokens.revoke.useMutation({
    onSuccess: ({ id }) => {
      toast.success(`Token “${toRevoke?.name ?? ""}” revoked`);
      // Shown revoked in the same render that closes the dialog, so the dialog sees its
      // Revoke button gone and moves focus on, instead of onto a button about to vanish.
      const revokedAt = new Date().toISOString();
      utils.tokens.list.setData(undefined, (old) => old?.map((t) => (t.id === id ? { ...t, revoked_at: revokedAt } : t)));
      setToRevoke(null);
      void utils.tokens.list.invalidate();
    },
  });

  const onCreate = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    create.mutate({ name, scope });
  };

  const nameError = fieldError(create.error, "name");
  const otherCreateError = create.error && !nameError ? errorMessage(create.error) : null;
  const tokens = list.data ?? [];
  const activeCount = tokens.filter((t) => !t.revoked_at).length;

  return (
    <div className="stack">
      <Card title="Create a token" description="Name it after what will use it, so you know which one to revoke later.">
        <div className="stack-sm" style={{ gap: "var(--space-4)" }}>
          {created ? <NewTokenReveal token={created} onDone={() => setCreated(null)} /> : null}
          <form onSubmit={onCreate} noValidate>
            <div className="form-row form-row-top">
              <TextField
                label="Token name"
                name="name"
                value={name}
                onChange={(e) => setName(e.target.value)}
                placeholder="e.g. nightly offsite sync"
                maxLength={100}
                autoComplete="off"
                error={nameError}
                hint={nameError ? undefined : "Up to 100 characters."}
              />
              <SelectField
                label="Access"
                name="scope"
                value={scope}
                onChange={(e) => setScope(e.target.value as Scope)}
                hint={SCOPE_HINTS[scope]}
              >
                <option value="full">Full access</option>
                <option value="monitoring">Monitoring only</option>
              </SelectField>
              <Button type="submit" variant="primary" icon={<PlusIcon size={14} />} loading={create.isPending}>
                Create token
              </Button>
            </div>
          </form>
          {otherCreateError ? (
            <Callout tone="danger" title="The token was not created">
              {otherCreateError}
            </Callout>
          ) : null}
        </div>
      </Card>

      <Card
        flush
        title="Tokens"
        description={
          tokens.length > 0
            ? `${activeCount} active${tokens.length > activeCount ? `, ${tokens.length - activeCount} revoked` : ""}`
            : undefined
        }
      >
        {list.isPending ? (
          <div className="loading-block">
            <Spinner /> Loading tokens…
          </div>
        ) : list.isError ? (
          <QueryError title="The tokens could not be loaded" error={list.error} onRetry={() => void list.refetch()} />
        ) : tokens.length === 0 ? (
          <TokensEmptyState />
        ) : (
          <div className="table-wrap">
            <table className="table table-stacked">
              <caption className="visually-hidden">API tokens</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Token</th>
                  <th scope="col">Access</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tokens.map((token) => (
                  <tr key={token.id} className={token.revoked_at ? "row-muted" : undefined}>
                    <td data-label="Name" data-wide className="cell-strong">
                      {token.name}
                    </td>
                    <td data-label="Token" className="nowrap">
                      <span className="mono">{token.token_prefix}…</span>
                    </td>
                    <td data-label="Access">{token.scope === "monitoring" ? <Badge tone="accent">Monitoring only</Badge> : "Full"}</td>
                    <td data-label="Created">
                      <DateTime value={token.created_at} />
                      <span className="cell-sub">by {token.username}</span>
                    </td>
                    <td data-label="Last used">
                      {token.last_used_at ? <RelativeTime value={token.last_used_at} /> : <span className="muted">Never</span>}
                    </td>
                    <td data-label="Status">
                      {token.revoked_at ? (
                        <Badge tone="neutral">Revoked</Badge>
                      ) : (
                        <Badge tone="success" dot>
                          Active
                        </Badge>
                      )}
                    </td>
                    <td data-label="" data-wide className="cell-actions" data-empty={Boolean(token.revoked_at) || undefined}>
                      {token.revoked_at ? null : (
                        <Button
                          size="sm"
                          variant="secondary"
                          icon={<BanIcon size={14} />}
                          onClick={() => {
                            revoke.reset();
                            setToRevoke(token);
                          }}
                          aria-label={`Revoke token ${token.name}`}
                        >
                          Revoke
                        </Button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>

      <ConfirmDialog
        open={toRevoke !== null}
        onOpenChange={(open) => {
          if (!open) setToRevoke(null);
        }}
        title={`Revoke token “${toRevoke?.name ?? ""}”?`}
        confirmLabel="Revoke token"
        tone="danger"
        busy={revoke.isPending}
        onConfirm={() => toRevoke && revoke.mutate({ id: toRevoke.id })}
        extra={
          revoke.error ? (
            <Callout tone="danger" title="The token was not revoked">
              {errorMessage(revoke.error)}
            </Callout>
          ) : null
        }
      >
        <p>Scripts and machines that use this token lose access at once. This cannot be undone.</p>
      </ConfirmDialog>
    </div>
  );
}

function NewTokenReveal({ token, onDone }: { token: CreatedToken; onDone: () => void }) {
  const baseUrl = useBaseUrl();
  const headingRef = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    // Bring the one-time secret to the keyboard and screen reader user's attention.
    headingRef.current?.focus();
  }, [token.id]);
  return (
    <div className="token-reveal" data-testid="new-token">
      <div className="callout callout-warning" role="status">
        <KeyIcon size={18} className="callout-icon" />
        <div className="callout-content">
          <p className="callout-title" ref={headingRef} tabIndex={-1}>
            Copy the token “{token.name}” now
          </p>
          <div className="callout-body">
            It is shown only this once: BaluHost keeps only a hash of it. If you lose it, revoke it and create a new one.
          </div>
        </div>
      </div>
      <CopyField label="Your new token" value={token.token} />
      <CopyField label="Try it" value={curlExample(baseUrl, token.token, token.scope)} multiline />
      <div className="token-reveal-footer">
        <Button onClick={onDone}>I have copied it</Button>
      </div>
    </div>
  );
}

function TokensEmptyState() {
  const baseUrl = useBaseUrl();
  return (
    <EmptyState icon={<KeyIcon size={22} />} title="No API tokens yet" headingLevel={3}>
      <p>
        An API token lets a script or another machine call the BaluHost API without a password, for example to start
        a backup from cron or to download the latest archive to another server. Create one above, then send it in the{" "}
        <code>Authorization</code> header:
      </p>
      <pre>
        <code>{curlExample(baseUrl, "<token>")}</code>
      </pre>
    </EmptyState>
  );
}
