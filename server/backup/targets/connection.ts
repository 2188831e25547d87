/**
 * "Test connection": proves a target works the way copies will use it, by writing a small
 * object under the target's prefix, reading it back (same bytes), and deleting it. The first
 * step that fails is reported with its cause in words (DNS, TLS, connection, auth, missing
 * bucket, permission, region), recorded on the target and in the audit log.
 */
import crypto from "node:crypto";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { AppDatabase } from "@/db/client";
import { offsiteTargets } from "@/db/schema";
import { recordAudit, type Actor } from "../../audit";
import type { AppConfig } from "../../config";
import { describeError } from "../../errors";
import { describeS3Error, remoteKey, s3Client, type TargetEndpoint } from "./s3";
import { getTargetRow, targetCredentials, type S3Credentials } from "./targets";

export const CONNECTION_STEPS = ["keys", "bucket", "write", "read", "delete"] as const;

export const connectionResultSchema = z.object({
  ok: z.boolean(),
  /** The step that failed (null when all passed). */
  failed_step: z.enum(CONNECTION_STEPS).nullable(),
  /** dns, tls, connection, timeout, auth, bucket, permission, region, not_found, other. */
  failure_kind: z.string().nullable(),
  error: z.string().nullable(),
  duration_ms: z.number(),
});
export type ConnectionResult = z.output<typeof connectionResultSchema>;

/** Runs the probe against any endpoint and keys (a saved target, or the CLI's environment). */
export async function probeTarget(target: TargetEndpoint, credentials: S3Credentials): Promise<ConnectionResult> {
  const started = Date.now();
  const client = s3Client(target, credentials, { maxAttempts: 2 });
  const key = remoteKey(target, `.baluhost-connection-test-${crypto.randomBytes(6).toString("hex")}`);
  const body = `BaluHost connection test ${new Date().toISOString()}\n`;
  let step: (typeof CONNECTION_STEPS)[number] = "bucket";
  const fail = (err: unknown): ConnectionResult => {
    const failure = describeS3Error(err, target, credentials);
    return { ok: false, failed_step: step, failure_kind: failure.kind, error: failure.message, duration_ms: Date.now() - started };
  };
  try {
    // A listing, not HeadBucket: a HEAD answer has no body, so a wrong secret and a missing
    // permission would both be a bare 403; the listing's error code tells them apart.
    await client.send(new ListObjectsV2Command({ Bucket: target.bucket, Prefix: target.prefix ? `${target.prefix}/` : undefined, MaxKeys: 1 }));
    step = "write";
    await client.send(new PutObjectCommand({ Bucket: target.bucket, Key: key, Body: body, ContentType: "text/plain" }));
    step = "read";
    const got = await client.send(new GetObjectCommand({ Bucket: target.bucket, Key: key }));
    const text = await got.Body?.transformToString();
    if (text !== body) {
      return {
        ok: false,
        failed_step: "read",
        failure_kind: "other",
        error: `The object read back differs from the one written (${text?.length ?? 0} bytes instead of ${body.length}): the server does not store bytes faithfully.`,
        duration_ms: Date.now() - started,
      };
    }
    step = "delete";
    await client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: key }));
    return { ok: true, failed_step: null, failure_kind: null, error: null, duration_ms: Date.now() - started };
  } catch (err) {
    return fail(err);
  } finally {
    client.destroy();
  }
}

export async function testTargetConnection(opts: { db: AppDatabase; config: AppConfig; actor: Actor; id: number }): Promise<ConnectionResult> {
  const { db, config, actor } = opts;
  const row = getTargetRow(db, opts.id);
  let result: ConnectionResult;
  try {
    result = await probeTarget(row, await targetCredentials(config, row));
  } catch (err) {
    result = { ok: false, failed_step: "keys", failure_kind: "auth", error: describeError(err), duration_ms: 0 };
  }
  db.update(offsiteTargets)
    .set({ lastTestAt: new Date(), lastTestOk: result.ok, lastTestError: result.error })
    .where(eq(offsiteTargets.id, row.id))
    .run();
  recordAudit(db, {
    action: "offsite.target_test",
    actor,
    resource: `offsite_target:${row.id}`,
    success: result.ok,
    errorMessage: result.error,
    details: { name: row.name, failed_step: result.failed_step, failure_kind: result.failure_kind, duration_ms: result.duration_ms },
  });
  return result;
}
