/**
 * The disaster case against a real S3 server (Ceph radosgw): the NAS and its catalog are
 * gone; a fresh instance lists the bucket, brings an incremental back with the full it needs
 * (each download checked against its SHA-256, then verified by the import) and restores it,
 * with the keys from the environment, as the README tells a user to.
 */
import fs from "node:fs";
import path from "node:path";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listBackups } from "@/server/backup/service";
import { createBackup } from "@/server/backup/service";
import { drainOffsiteQueue } from "@/server/backup/targets/copy-queue";
import { createTarget } from "@/server/backup/targets/targets";
import { registerBackupCommands } from "@/server/cli/backups";
import { runCliInProcess } from "../helpers/cli";
import { hashTree, writeFiles } from "../helpers/files";
import { adminClient, dropBucket, freshBucket, s3Endpoint, targetInput } from "../helpers/s3";
import { createTestApp, type TestApp } from "../helpers/test-app";

const actor = { id: 1, username: "admin" };

describe.skipIf(!s3Endpoint)("restore from an offsite copy on a fresh machine", () => {
  let bucket: string;
  let made: { full: string; incremental: string; tree: Record<string, string> };
  let fresh: TestApp;

  beforeEach(async () => {
    bucket = await freshBucket();
    // The NAS that burned down: a full and an incremental, both copied offsite.
    const old = createTestApp();
    await old.ready;
    writeFiles(old.config.storagePath, { "a.txt": "alpha\n", "dir/b.txt": "beta\n" });
    await createTarget({ db: old.db, config: old.config, actor, input: targetInput(bucket) });
    const full = await createBackup({ db: old.db, config: old.config, actor, input: { backup_type: "full", wait: true } });
    writeFiles(old.config.storagePath, { "c.txt": "gamma\n" });
    fs.rmSync(path.join(old.config.storagePath, "a.txt"));
    const incremental = await createBackup({ db: old.db, config: old.config, actor, input: { backup_type: "incremental", wait: true } });
    expect(incremental.parentId).toBe(full.id);
    expect(await drainOffsiteQueue({ db: old.db, config: old.config })).toMatchObject({ verified: 2, failed: 0 });
    made = { full: full.filename, incremental: incremental.filename, tree: hashTree(old.config.storagePath) };
    await old.cleanup(); // the disk, its backups and its catalog are gone

    fresh = createTestApp();
    await fresh.ready;
    writeFiles(fresh.config.storagePath, { "unrelated.txt": "new machine\n" });
  });
  afterEach(async () => {
    await fresh.cleanup();
    await dropBucket(bucket);
  });

  const env = () => ({
    AWS_ACCESS_KEY_ID: s3Endpoint!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3Endpoint!.secretAccessKey,
    AWS_ENDPOINT_URL: s3Endpoint!.endpoint,
  });
  const cli = (args: string[], extraEnv: Record<string, string> = env()) => runCliInProcess(args, { groups: [registerBackupCommands], env: extraEnv });

  it("lists the bucket with no catalog and no saved target, keys from the environment", async () => {
    expect(listBackups(fresh.db).backups).toEqual([]);
    const run = await cli(["--json", "backup", "remote", "list", `s3://${bucket}/nas/backups`]);
    expect(run.code, run.stderr).toBe(0);
    const listed = JSON.parse(run.stdout) as { filename: string; backup_type: string; parent: string | null; local_backup_id: number | null }[];
    expect(listed).toEqual([
      expect.objectContaining({ filename: made.incremental, backup_type: "incremental", parent: made.full, local_backup_id: null }),
      expect.objectContaining({ filename: made.full, backup_type: "full", parent: null, local_backup_id: null }),
    ]);
  });

  it("restores an incremental straight from the bucket, bringing back the full it builds on", async () => {
    const run = await cli(["backup", "restore", `s3://${bucket}/nas/backups/${made.incremental}`, "--yes"]);
    expect(run.code, run.stderr).toBe(0);
    expect(hashTree(fresh.config.storagePath)).toEqual(made.tree);
    const rows = listBackups(fresh.db).backups;
    // The full and the incremental (imported), and the safety backup of what was here.
    expect(rows.map((r) => r.origin).sort()).toEqual(["imported", "imported", "safety"]);
    expect(rows.find((r) => r.backup_type === "incremental")?.parent_id).toBe(rows.find((r) => r.backup_type === "full" && r.origin === "imported")?.id);
  });

  it("refuses a download whose bytes do not match the checksum, and catalogs nothing", async () => {
    const client = adminClient();
    const key = `nas/backups/${made.full}`;
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(Number(head.ContentLength), 7), Metadata: head.Metadata }));
    client.destroy();
    const run = await cli(["backup", "restore", `s3://${bucket}/nas/backups/${made.full}`, "--yes"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/does not match its checksum/);
    expect(listBackups(fresh.db).backups).toEqual([]);
    expect(fs.readdirSync(fresh.config.backupPath).filter((f) => f.startsWith("backup_") || f.startsWith(".incoming"))).toEqual([]);
  });

  it("says which variables to set when the keys are missing, and a wrong secret is refused", async () => {
    const none = await cli(["backup", "remote", "list", `s3://${bucket}/nas/backups`], {});
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    const wrong = await cli(["backup", "remote", "list", `s3://${bucket}/nas/backups`], { ...env(), AWS_SECRET_ACCESS_KEY: "wrong-secret-key" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/secret key does not match/);
    expect(wrong.stderr).not.toContain("wrong-secret-key");
  });
});
