import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "@/server/http/openapi";

describe("the OpenAPI document", () => {
  const doc = buildOpenApiDocument();

  it("lists every REST path of the spec's API table", () => {
    expect(Object.keys(doc.paths).sort()).toEqual(
      ["/api/backups", "/api/backups/{id}", "/api/backups/{id}/cancel", "/api/backups/{id}/download", "/api/backups/{id}/restore", "/api/backups/{id}/verify", "/api/backups/upload"].sort(),
    );
  });

  it("describes the create body with the spec's snake_case fields and types", () => {
    const create = doc.components.schemas.CreateBackup as { properties: Record<string, { enum?: string[] }> };
    expect(Object.keys(create.properties)).toEqual(expect.arrayContaining(["backup_type", "includes_database", "includes_files", "includes_config"]));
    expect(create.properties.backup_type!.enum).toEqual(["full", "incremental", "database_only", "files_only", "config_only"]);
  });

  it("lists the fields every backup record has", () => {
    const backup = doc.components.schemas.Backup as { required: string[] };
    expect(backup.required).toEqual(expect.arrayContaining(["id", "filename", "size_bytes", "status", "created_at"]));
  });
});
