/**
 * Offsite copies against a real S3 server (Ceph radosgw): targets and their keys, test
 * connection, the streamed multipart copy with its read-back check, a process killed
 * mid-upload, and remote retention with chains.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { DeleteBucketPolicyCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutBucketPolicyCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditLog, notificationDeliveries, offsiteCopies } from "@/db/schema";
import { createChannel } from "@/server/backup/notify/channels";
import { createBackup } from "@/server/backup/service";
import { applyRemoteRetentionEverywhere, COPY_MAX_ATTEMPTS, COPY_RETRY_DELAYS_MS, drainOffsiteQueue, queueNewCopies, requestCopy } from "@/server/backup/targets/copy-queue";
import { testTargetConnection } from "@/server/backup/targets/connection";
import { listRemote, savedSource, verifyRemoteBackup } from "@/server/backup/targets/remote";
import { createTarget, updateTarget } from "@/server/backup/targets/targets";
import { sha256File, writeFiles, writeRandomFile } from "../helpers/files";
import { adminClient, dropBucket, freshBucket, s3Endpoint, targetInput } from "../helpers/s3";
import { createTestApp, type TestApp } from "../helpers/test-app";

const actor = { id: 1, username: "admin" };
const MiB = 1024 * 1024;

describe.skipIf(!s3Endpoint)("offsite copies on a real S3 server", () => {
  let app: TestApp;
  let bucket: string;
  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
    writeFiles(app.config.storagePath, { "a.txt": "alpha\n", "dir/b.txt": "beta\n" });
    bucket = await freshBucket();
  });
  afterEach(async () => {
    await app.cleanup();
    await dropBucket(bucket);
  });

  const backup = (type: "full" | "incremental" = "full") =>
    createBackup({ db: app.db, config: app.config, actor, input: { backup_type: type, wait: true } });
  const copyRow = (backupId: number) => app.db.select().from(offsiteCopies).where(eq(offsiteCopies.backupId, backupId)).get();

  it("keeps the keys out of the database and never returns them", async () => {
    const target = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket) });
    expect(target.has_secret).toBe(true);
    expect(JSON.stringify(target)).not.toContain(s3Endpoint!.secretAccessKey);
    expect(JSON.stringify(target)).not.toContain(s3Endpoint!.accessKeyId);
    app.db.$client.pragma("wal_checkpoint(TRUNCATE)");
    const dbBytes = fs.readFileSync(app.config.databasePath).toString("latin1");
    expect(dbBytes).not.toContain(s3Endpoint!.secretAccessKey);
    const secretFile = path.join(app.config.secretsPath, `offsite-target-${target.id}`);
    expect(fs.statSync(secretFile).mode & 0o777).toBe(0o600);
  });

  it("test connection passes with the right keys and names the step and cause otherwise", async () => {
    const good = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket) });
    expect(await testTargetConnection({ db: app.db, config: app.config, actor, id: good.id })).toMatchObject({ ok: true, failed_step: null });

    const wrongSecret = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket, { name: "wrong", secret_access_key: "not-the-secret-key" }) });
    const refused = await testTargetConnection({ db: app.db, config: app.config, actor, id: wrongSecret.id });
    expect(refused).toMatchObject({ ok: false, failure_kind: "auth" });
    expect(refused.error).toMatch(/secret key does not match/);
    expect(refused.error).not.toContain("not-the-secret-key");

    const unknownKey = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket, { name: "unknown", access_key_id: "NOSUCHKEY123" }) });
    expect(await testTargetConnection({ db: app.db, config: app.config, actor, id: unknownKey.id })).toMatchObject({ ok: false, failure_kind: "auth" });

    const noBucket = await createTarget({ db: app.db, config: app.config, actor, input: targetInput("bh-no-such-bucket-here", { name: "nobucket" }) });
    const missing = await testTargetConnection({ db: app.db, config: app.config, actor, id: noBucket.id });
    expect(missing).toMatchObject({ ok: false, failed_step: "bucket", failure_kind: "bucket" });
    expect(missing.error).toContain('"bh-no-such-bucket-here" does not exist');

    const nothingThere = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket, { name: "closed", endpoint: "http://127.0.0.1:9" }) });
    expect(await testTargetConnection({ db: app.db, config: app.config, actor, id: nothingThere.id })).toMatchObject({ ok: false, failure_kind: "connection" });

    // https to a plain-http gateway: the TLS handshake fails.
    const noTls = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket, { name: "tls", endpoint: s3Endpoint!.endpoint.replace("http:", "https:") }) });
    expect(await testTargetConnection({ db: app.db, config: app.config, actor, id: noTls.id })).toMatchObject({ ok: false, failure_kind: "tls" });

    const noDns = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket, { name: "dns", endpoint: "http://no-such-host.invalid" }) });
    expect(await testTargetConnection({ db: app.db, config: app.config, actor, id: noDns.id })).toMatchObject({ ok: false, failure_kind: "dns" });
  });

  it("test connection names a missing permission (a bucket policy that denies writes) and the step it hit", async () => {
    const client = adminClient();
    const policy = {
      Version: "2012-10-17",
      Statement: [{ Effect: "Deny", Principal: "*", Action: ["s3:PutObject"], Resource: [`arn:aws:s3:::${bucket}/*`] }],
    };
    await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
    try {
      const target = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket) });
      const result = await testTargetConnection({ db: app.db, config: app.config, actor, id: target.id });
      expect(result).toMatchObject({ ok: false, failed_step: "write", failure_kind: "permission" });
      expect(result.error).toMatch(/Access denied/);
    } finally {
      await client.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
      client.destroy();
    }
  });

  it("a copy with the wrong secret is retried with backoff, then failed, announced and retried on request", async () => {
    await createChannel({ db: app.db, config: app.config, actor, input: { kind: "webhook", name: "ops", settings: { url: "http://127.0.0.1:9/hook" } } });
    const target = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket, { secret_access_key: "wrong-secret" }) });
    const made = await backup();
    const t0 = Date.now();
    expect(await drainOffsiteQueue({ db: app.db, config: app.config })).toMatchObject({ verified: 0, retrying: 1 });
    expect(copyRow(made.id)).toMatchObject({ status: "queued", attempts: 1 });
    expect(copyRow(made.id)!.lastError).toMatch(/secret key does not match/);
    expect(copyRow(made.id)!.nextAttemptAt.getTime()).toBeGreaterThanOrEqual(t0 + COPY_RETRY_DELAYS_MS[0]);
    // Not before its time.
    expect(await drainOffsiteQueue({ db: app.db, config: app.config })).toEqual({ verified: 0, retrying: 0, failed: 0 });
    for (let attempt = 2; attempt <= COPY_MAX_ATTEMPTS; attempt++) {
      await drainOffsiteQueue({ db: app.db, config: app.config, now: new Date(copyRow(made.id)!.nextAttemptAt.getTime() + 1) });
    }
    expect(copyRow(made.id)).toMatchObject({ status: "failed", attempts: COPY_MAX_ATTEMPTS });
    const announced = app.db.select().from(notificationDeliveries).all();
    expect(announced.map((d) => d.event)).toEqual(["offsite_copy_failed"]);
    expect(JSON.stringify(announced[0]!.payload)).not.toContain("wrong-secret");

    // Fixed keys and Retry: copied.
    await updateTarget({ db: app.db, config: app.config, actor, input: { id: target.id, access_key_id: s3Endpoint!.accessKeyId, secret_access_key: s3Endpoint!.secretAccessKey } });
    requestCopy({ db: app.db, actor, backupId: made.id, targetId: target.id });
    expect(await drainOffsiteQueue({ db: app.db, config: app.config })).toMatchObject({ verified: 1 });
  });

  it("refuses to copy a local archive that no longer matches its checksum, and leaves nothing in the bucket", async () => {
    const target = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket) });
    const made = await backup();
    const file = path.join(app.config.backupPath, made.filename);
    const bytes = fs.readFileSync(file);
    bytes[100]! ^= 0x01;
    fs.writeFileSync(file, bytes);
    expect(await drainOffsiteQueue({ db: app.db, config: app.config })).toMatchObject({ failed: 1 });
    expect(copyRow(made.id)).toMatchObject({ status: "failed", attempts: 1 });
    expect(copyRow(made.id)!.lastError).toMatch(/no longer matches its checksum/);
    expect(await listRemote(await savedSource(app.db, app.config, target.id))).toEqual([]);
  });

  it("copies an archive larger than the part size in parallel parts and verifies it by reading it back", async () => {
    writeRandomFile(path.join(app.config.storagePath, "video.bin"), 13 * MiB);
    const target = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket) });
    const made = await backup();
    expect(made.sizeBytes).toBeGreaterThan(2 * 5 * MiB);
    const result = await drainOffsiteQueue({ db: app.db, config: app.config, partBytes: 5 * MiB, parallelParts: 2 });
    expect(result).toEqual({ verified: 1, retrying: 0, failed: 0 });
    expect(copyRow(made.id)).toMatchObject({ status: "verified", bytesDone: made.sizeBytes, remoteKey: `nas/backups/${made.filename}` });

    const client = adminClient();
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `nas/backups/${made.filename}` }));
    expect(head.ContentLength).toBe(made.sizeBytes);
    expect(head.ETag).toMatch(/-3"$/); // a multipart ETag: three parts
    expect(head.Metadata?.["baluhost-sha256"]).toBe(sha256File(path.join(app.config.backupPath, made.filename)));
    const manifest = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `nas/backups/${made.filename}.manifest.json` }));
    expect(await manifest.Body!.transformToString()).toContain('"backup_type":"full"');
    client.destroy();

    const listed = await listRemote(await savedSource(app.db, app.config, target.id), app.db);
    expect(listed).toEqual([expect.objectContaining({ filename: made.filename, local_backup_id: made.id, backup_type: "full", has_manifest: true })]);
  });

  it("detects a remote copy whose bytes were changed through the S3 API", async () => {
    const target = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket) });
    const made = await backup();
    await drainOffsiteQueue({ db: app.db, config: app.config });
    const source = await savedSource(app.db, app.config, target.id);
    expect(await verifyRemoteBackup({ db: app.db, actor, source, filename: made.filename })).toEqual({ ok: true, error: null });

    // Same size, same metadata, one byte different: only a hash of the bytes can tell.
    const key = `nas/backups/${made.filename}`;
    const bytes = fs.readFileSync(path.join(app.config.backupPath, made.filename));
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    const client = adminClient();
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, Metadata: head.Metadata }));
    client.destroy();

    const checked = await verifyRemoteBackup({ db: app.db, actor, source, filename: made.filename });
    expect(checked.ok).toBe(false);
    expect(checked.error).toMatch(/does not match its checksum/);
  });

  /** Runs the queue in a child process that kills itself (SIGKILL) once the first part is on the server. */
  async function killedMidUpload(backupId: number): Promise<Date> {
    queueNewCopies(app.db);
    const child = spawn(process.execPath, ["--import", "tsx", "tests/fixtures/run-offsite-drain.ts"], {
      env: { ...process.env, ...app.env, BALUHOST_CRASH_AT: "offsite:part-uploaded" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, sig) => resolve(sig)));
    expect(signal, stderr).toBe("SIGKILL");
    const killed = copyRow(backupId)!;
    expect(killed).toMatchObject({ status: "uploading", attempts: 1 });
    return new Date(killed.leaseUntil!.getTime() + 1000);
  }

  const openUploads = async (key: string) => {
    const client = adminClient();
    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
    client.destroy();
    return listed.Uploads ?? [];
  };

  it("a copy whose process was killed mid-upload continues after the lease runs out, keeping the parts already sent", async () => {
    writeRandomFile(path.join(app.config.storagePath, "video.bin"), 16 * MiB);
    const target = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket) });
    const made = await backup();
    const key = `nas/backups/${made.filename}`;
    const later = await killedMidUpload(made.id);
    expect(await openUploads(key)).toHaveLength(1); // the dead process's unfinished upload

    // Not before its lease runs out: the uploader might still be alive.
    expect(await drainOffsiteQueue({ db: app.db, config: app.config })).toEqual({ verified: 0, retrying: 0, failed: 0 });
    expect(await drainOffsiteQueue({ db: app.db, config: app.config, now: later, partBytes: 5 * MiB })).toMatchObject({ verified: 1 });
    expect(copyRow(made.id)).toMatchObject({ status: "verified", attempts: 2 });
    expect(await openUploads(key)).toEqual([]);
    const audit = app.db.select().from(auditLog).all().find((a) => a.action === "offsite.copy" && a.success);
    expect((audit!.details as { resumed_parts?: number }).resumed_parts).toBeGreaterThanOrEqual(1);
    expect(await verifyRemoteBackup({ db: app.db, actor, source: await savedSource(app.db, app.config, target.id), filename: made.filename })).toEqual({ ok: true, error: null });
  });

  it("a killed upload whose parts do not fit (another part size) is started over cleanly", async () => {
    writeRandomFile(path.join(app.config.storagePath, "video.bin"), 16 * MiB);
    await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket) });
    const made = await backup();
    const key = `nas/backups/${made.filename}`;
    const later = await killedMidUpload(made.id);
    expect(await drainOffsiteQueue({ db: app.db, config: app.config, now: later, partBytes: 6 * MiB })).toMatchObject({ verified: 1 });
    expect(copyRow(made.id)).toMatchObject({ status: "verified", attempts: 2 });
    expect(await openUploads(key)).toEqual([]);
    const audit = app.db.select().from(auditLog).all().find((a) => a.action === "offsite.copy" && a.success);
    expect((audit!.details as { resumed_parts?: number }).resumed_parts).toBeUndefined();
  });

  it("remote retention keeps its own count and never deletes a full that a kept incremental needs", async () => {
    const target = await createTarget({ db: app.db, config: app.config, actor, input: targetInput(bucket) });
    const full = await backup("full");
    writeFiles(app.config.storagePath, { "c.txt": "gamma\n" });
    const inc1 = await backup("incremental");
    writeFiles(app.config.storagePath, { "d.txt": "delta\n" });
    const inc2 = await backup("incremental");
    expect([inc1.parentId, inc2.parentId]).toEqual([full.id, inc1.id]);
    const full2 = await backup("full");
    await drainOffsiteQueue({ db: app.db, config: app.config });
    const source = await savedSource(app.db, app.config, target.id);
    expect((await listRemote(source)).map((e) => e.filename).sort()).toEqual([full.filename, inc1.filename, inc2.filename, full2.filename].sort());

    // Keep 2: the newest two are full2 and inc2; inc2 needs inc1 and full, so nothing may go.
    await updateTarget({ db: app.db, config: app.config, actor, input: { id: target.id, keep_count: 2 } });
    requestCopy({ db: app.db, actor, backupId: full2.id });
    await drainOffsiteQueue({ db: app.db, config: app.config });
    expect((await listRemote(source)).map((e) => e.filename).sort()).toEqual([full.filename, inc1.filename, inc2.filename, full2.filename].sort());

    // Keep 1: only full2 (and nothing it needs) stays; the chain goes as a whole.
    await updateTarget({ db: app.db, config: app.config, actor, input: { id: target.id, keep_count: 1 } });
    requestCopy({ db: app.db, actor, backupId: full2.id });
    await drainOffsiteQueue({ db: app.db, config: app.config });
    expect((await listRemote(source)).map((e) => e.filename)).toEqual([full2.filename]);
    // The list says so, and nothing re-uploads them by itself.
    expect([full, inc1, inc2, full2].map((b) => copyRow(b.id)!.status)).toEqual(["removed", "removed", "removed", "verified"]);
    expect(await drainOffsiteQueue({ db: app.db, config: app.config })).toEqual({ verified: 0, retrying: 0, failed: 0 });
    // Age: with keep_days, the hourly pass removes what is older, keeping the newest.
    await updateTarget({ db: app.db, config: app.config, actor, input: { id: target.id, keep_count: null, keep_days: 1 } });
    const full3 = await backup("full");
    await drainOffsiteQueue({ db: app.db, config: app.config });
    expect((await listRemote(source)).map((e) => e.filename).sort()).toEqual([full2.filename, full3.filename].sort());
    expect(await applyRemoteRetentionEverywhere({ db: app.db, config: app.config, now: new Date(Date.now() + 2 * 86_400_000) })).toBe(1);
    expect((await listRemote(source)).map((e) => e.filename)).toEqual([full3.filename]);
    // Deleting remotely never touched the local catalog.
    expect(fs.existsSync(path.join(app.config.backupPath, full.filename))).toBe(true);
  });
});
