/**
 * Offsite copies of encrypted backups against a real S3 server (Ceph radosgw): the bucket
 * holds the .tar.gz.age file as it is (nothing readable), and a fresh machine restores it
 * straight from the bucket with the passphrase from a file.
 */
import fs from "node:fs";
import path from "node:path";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { saveEncryptionSettings } from "@/server/backup/encryption";
import { createBackup } from "@/server/backup/service";
import { drainOffsiteQueue } from "@/server/backup/targets/copy-queue";
import { createTarget } from "@/server/backup/targets/targets";
import { registerBackupCommands } from "@/server/cli/backups";
import { runCliInProcess } from "../helpers/cli";
import { hashTree, writeFiles } from "../helpers/files";
import { adminClient, dropBucket, freshBucket, s3Endpoint } from "../helpers/s3";
import { targetInput } from "../helpers/s3";
import { createTestApp, makeTempDir, type TestApp } from "../helpers/test-app";

const actor = { id: 1, username: "admin" };
const PASSPHRASE = "offsite and encrypted, both";

describe.skipIf(!s3Endpoint)("offsite copies of encrypted backups", () => {
  let bucket: string;
  let fresh: TestApp | null = null;
  let work: string;
  beforeEach(async () => {
    bucket = await freshBucket();
    work = makeTempDir("bh-offsite-enc-");
  });
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = null;
    await dropBucket(bucket);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("copies the .tar.gz.age as it is and restores it from the bucket on a fresh machine with the passphrase", async () => {
    const old = createTestApp();
    await old.ready;
    writeFiles(old.config.storagePath, { "secret.txt": "only the owner may read this\n", "dir/b.txt": "beta\n" });
    await saveEncryptionSettings(old.db, old.config, { mode: "passphrase", passphrase: PASSPHRASE });
    await createTarget({ db: old.db, config: old.config, actor, input: targetInput(bucket) });
    const row = await createBackup({ db: old.db, config: old.config, actor, input: { backup_type: "full", wait: true } });
    expect(row.filename).toMatch(/\.tar\.gz\.age$/);
    expect(await drainOffsiteQueue({ db: old.db, config: old.config })).toMatchObject({ verified: 1, failed: 0 });
    const tree = hashTree(old.config.storagePath);

    const client = adminClient();
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `nas/backups/${row.filename}` }));
    const body = Buffer.from(await object.Body!.transformToByteArray());
    expect(body.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    expect(body.includes(Buffer.from("only the owner"))).toBe(false);
    // Nothing in the bucket names a file: no manifest in clear beside the encrypted archive.
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    expect(keys).toContain(`nas/backups/${row.filename}`);
    for (const key of keys) {
      expect(key).not.toMatch(/manifest/);
      const other = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(Buffer.from(await other.Body!.transformToByteArray()).includes(Buffer.from("secret.txt"))).toBe(false);
    }
    client.destroy();
    await old.cleanup();

    fresh = createTestApp();
    await fresh.ready;
    const passFile = path.join(work, "pass.txt");
    fs.writeFileSync(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
    const env = { AWS_ACCESS_KEY_ID: s3Endpoint!.accessKeyId, AWS_SECRET_ACCESS_KEY: s3Endpoint!.secretAccessKey, AWS_ENDPOINT_URL: s3Endpoint!.endpoint };
    const cli = (args: string[]) => runCliInProcess(args, { groups: [registerBackupCommands], env });
    const without = await cli(["backup", "restore", `s3://${bucket}/nas/backups/${row.filename}`, "--yes"]);
    expect(without.code).not.toBe(0);
    expect(without.stderr).toMatch(/encrypted/i);
    const run = await cli(["backup", "restore", `s3://${bucket}/nas/backups/${row.filename}`, "--yes", "--passphrase-file", passFile]);
    expect(run.code, run.stderr).toBe(0);
    expect(hashTree(fresh.config.storagePath)).toEqual(tree);
  });
});
