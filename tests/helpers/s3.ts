/**
 * The real S3 endpoint of the offsite tests (tests/support/s3-global-setup.ts) and a fresh
 * bucket per test. Without an endpoint the tests fail under CI (CI=1) and are skipped, with
 * a loud message, elsewhere: never silently.
 */
import crypto from "node:crypto";
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { inject } from "vitest";
import type { S3TestEndpoint } from "../support/s3-global-setup";

const provided = inject("s3");

export const s3Endpoint: S3TestEndpoint | null = "endpoint" in provided ? provided : null;

if (!s3Endpoint) {
  const message = `Offsite (S3) tests cannot run: ${"unavailable" in provided ? provided.unavailable : "no endpoint"}.`;
  if (process.env.CI) throw new Error(`${message} CI must run them (.ci/run starts the Ceph radosgw).`);
  console.warn(`\n!!! SKIPPED: ${message}\n`);
}

export function adminClient(): S3Client {
  return new S3Client({
    region: "us-east-1",
    endpoint: s3Endpoint!.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: s3Endpoint!.accessKeyId, secretAccessKey: s3Endpoint!.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

export async function freshBucket(): Promise<string> {
  const bucket = `bh-${crypto.randomBytes(6).toString("hex")}`;
  const client = adminClient();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return bucket;
}

/** Empties and removes a bucket (memstore is RAM: leave nothing behind). */
export async function dropBucket(bucket: string): Promise<void> {
  const client = adminClient();
  try {
    for (;;) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length === 0) break;
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch {
    // best effort
  } finally {
    client.destroy();
  }
}

/** The create-target input for a bucket on the test endpoint. */
export function targetInput(bucket: string, extra: Record<string, unknown> = {}) {
  return {
    name: `target-${bucket}`,
    endpoint: s3Endpoint!.endpoint,
    region: "us-east-1",
    bucket,
    prefix: "nas/backups",
    force_path_style: true,
    access_key_id: s3Endpoint!.accessKeyId,
    secret_access_key: s3Endpoint!.secretAccessKey,
    ...extra,
  };
}
