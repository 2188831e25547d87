import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "@/server/http/openapi";

describe("the OpenAPI document", () => {
  const doc = buildOpenApiDocument();

  it("lists every REST path of the spec's API table", () => {
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "/api/backups",
        "/api/backups/{id}",
        "/api/backups/{id}/cancel",
        "/api/backups/{id}/download",
        "/api/backups/{id}/download-link",
        "/api/backups/{id}/drill",
        "/api/backups/drills",
        "/api/backups/{id}/restore",
        "/api/backups/{id}/verify",
        "/api/backups/{id}/tree",
        "/api/backups/{id}/tree/search",
        "/api/backups/{id}/tree/diff",
        "/api/backups/{id}/tree/users",
        "/api/backups/{id}/file",
        "/api/backups/{id}/folder",
        "/api/backups/{id}/restore-paths",
        "/api/backups/{id}/restore-paths/plan",
        "/api/backups/upload",
        "/api/backups/encryption",
        "/api/backups/encryption/keypair",
        "/api/backups/schedules",
        "/api/backups/schedules/{id}",
        "/api/backups/schedules/{id}/run",
        "/api/health/backups",
        "/api/metrics",
        "/api/notifications/channels",
        "/api/notifications/channels/{id}",
        "/api/notifications/channels/{id}/test",
        "/api/offsite/targets",
        "/api/offsite/targets/{id}",
        "/api/offsite/targets/{id}/test",
        "/api/offsite/targets/{id}/backups",
        "/api/offsite/targets/{id}/backups/{filename}",
        "/api/offsite/targets/{id}/backups/{filename}/import",
        "/api/offsite/targets/{id}/backups/{filename}/restore",
        "/api/offsite/targets/{id}/backups/{filename}/verify",
        "/api/backups/{id}/offsite",
      ].sort(),
    );
  });

  it("describes the create body with the spec's snake_case fields and types", () => {
    const create = doc.components.schemas.CreateBackup as { properties: Record<string, { enum?: string[] }> };
    expect(Object.keys(create.properties)).toEqual(expect.arrayContaining(["backup_path", "backup_type", "includes_database", "includes_files", "includes_config"]));
    expect(create.properties.backup_type!.enum).toEqual(["full", "incremental", "database_only", "files_only", "config_only"]);
  });

  it("lists the fields every backup record has", () => {
    const backup = doc.components.schemas.Backup as { required: string[] };
    expect(backup.required).toEqual(expect.arrayContaining(["id", "filename", "size_bytes", "status", "created_at"]));
  });

  it("describes every error body with the detail field beside error", () => {
    const error = doc.components.schemas.Error as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(error.properties)).toEqual(["error", "detail"]);
    expect(error.required).toEqual(["error", "detail"]);
  });

  it("offers ?token= as a credential on the download only", () => {
    const withQueryToken = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item as Record<string, { security?: Array<Record<string, unknown>> }>)
        .filter(([, op]) => op.security?.some((s) => "downloadToken" in s))
        .map(([method]) => `${method} ${path}`),
    );
    expect(withQueryToken.sort()).toEqual(["get /api/backups/{id}/download", "head /api/backups/{id}/download"]);
  });

  it("describes a plan's body with its snake_case fields and the plan types", () => {
    const create = doc.components.schemas.CreatePlan as { properties: Record<string, { enum?: string[] }>; required: string[] };
    expect(create.required.sort()).toEqual(["backup_type", "cron", "name"]);
    expect(Object.keys(create.properties)).toEqual(
      expect.arrayContaining(["name", "backup_type", "include_config", "cron", "timezone", "full_every", "drill_cron", "enabled"]),
    );
    expect(create.properties.backup_type!.enum).toEqual(["full", "incremental", "database_only", "files_only"]);
  });

  it("describes the download link as {url, expires_at}", () => {
    const link = doc.components.schemas.DownloadLink as { required: string[] };
    expect(link.required).toEqual(["url", "expires_at"]);
  });

  it("takes an offsite target's keys in the create body and never returns them", () => {
    const create = doc.components.schemas.CreateOffsiteTarget as { properties: Record<string, unknown>; required: string[] };
    expect(create.required.sort()).toEqual(["access_key_id", "bucket", "name", "secret_access_key"]);
    const record = doc.components.schemas.OffsiteTarget as { properties: Record<string, unknown> };
    expect(Object.keys(record.properties)).toContain("has_secret");
    expect(Object.keys(record.properties).filter((k) => /access_key|secret_access/.test(k))).toEqual([]);
  });
});
