/**
 * The S3 side of offsite copies: a client per target (official AWS SDK v3), where a backup
 * lives in the bucket, the metadata it carries there, and what an S3 failure means in words
 * an admin can act on. Every error text that leaves this module went through `redact`, so
 * neither key ever reaches a log, a row or a client.
 *
 * Checksums: the SDK's own request/response checksums are set to WHEN_REQUIRED, since
 * several S3-compatible servers (Ceph radosgw, older MinIO, B2) reject or mangle the newer
 * default CRC trailers. Integrity is ours instead: the SHA-256 of the archive travels as
 * object metadata and every copy is read back and hashed before it counts (copy-queue.ts).
 */
import { S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import type { OffsiteTarget } from "@/db/schema";
import type { S3Credentials } from "./targets";

/** The parts of a target a client needs (a saved target, or one built from the environment). */
export type TargetEndpoint = Pick<OffsiteTarget, "endpoint" | "region" | "bucket" | "prefix" | "forcePathStyle"> & {
  storageClass?: string | null;
  name: string;
};

// The SDK warns on Node 20 that versions released after January 2027 will need Node 22; the
// pinned version supports Node 20 (package.json engines), so the warning would only be noise on
// every CLI command. An admin who sets the variable otherwise still gets it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

export function s3Client(target: TargetEndpoint, credentials: S3Credentials, opts: { maxAttempts?: number } = {}): S3Client {
  return new S3Client({
    region: target.region,
    endpoint: target.endpoint || undefined,
    forcePathStyle: target.forcePathStyle,
    credentials,
    // The SDK retries each request with exponential backoff and jitter (throttling, 5xx, resets).
    maxAttempts: opts.maxAttempts ?? 4,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
  });
}

/** Archive names a target may hold: ours (any suffix the catalog gives, e.g. a future .age), never a manifest. */
export const REMOTE_ARCHIVE_PATTERN = /^backup_\d{8}_\d{6}(?:_\d{1,4})?\.tar\.gz(?:\.[a-z0-9]{1,8})?$/;
export const MANIFEST_SUFFIX = ".manifest.json";

export function remoteKey(target: Pick<TargetEndpoint, "prefix">, filename: string): string {
  return target.prefix ? `${target.prefix}/${filename}` : filename;
}

export function manifestKey(archiveKey: string): string {
  return `${archiveKey}${MANIFEST_SUFFIX}`;
}

/** What a copy carries as S3 user metadata (x-amz-meta-*; lower-case names, ASCII values). */
export interface RemoteMeta {
  sha256: string;
  size: number;
  backupType: string;
  /** The file name of the backup an incremental builds on, as it was called where it was made. */
  parent: string | null;
  createdAt: string;
}

export function toObjectMetadata(meta: RemoteMeta): Record<string, string> {
  return {
    "baluhost-sha256": meta.sha256,
    "baluhost-size": String(meta.size),
    "baluhost-type": meta.backupType,
    "baluhost-parent": meta.parent ?? "",
    "baluhost-created": meta.createdAt,
  };
}

export function fromObjectMetadata(metadata: Record<string, string> | undefined): RemoteMeta | null {
  const sha256 = metadata?.["baluhost-sha256"];
  if (!metadata || !sha256 || !/^[0-9a-f]{64}$/.test(sha256)) return null;
  return {
    sha256,
    size: Number(metadata["baluhost-size"] ?? NaN),
    backupType: metadata["baluhost-type"] ?? "unknown",
    parent: metadata["baluhost-parent"] || null,
    createdAt: metadata["baluhost-created"] ?? "",
  };
}

/** Takes both keys out of a text (an SDK message may quote a header or a URL). */
export function redact(text: string, credentials?: S3Credentials | null): string {
  let out = text;
  for (const value of [credentials?.secretAccessKey, credentials?.accessKeyId]) {
    if (value && value.length >= 4) out = out.split(value).join("[redacted]");
  }
  return out;
}

export type S3FailureKind = "dns" | "tls" | "connection" | "timeout" | "auth" | "bucket" | "permission" | "region" | "not_found" | "other";

export interface S3Failure {
  kind: S3FailureKind;
  message: string;
}

const TLS_CODES = /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_TLS|ERR_SSL|EPROTO$|HOSTNAME_MISMATCH)/;

function errnoCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let i = 0; e && i < 4; i++, e = e.cause as typeof e) {
    if (typeof e.code === "string") return e.code;
  }
  return undefined;
}

/** What went wrong talking to a target, in a sentence that names the cause and the fix. */
export function describeS3Error(err: unknown, target: TargetEndpoint, credentials?: S3Credentials | null): S3Failure {
  const host = target.endpoint ? new URL(target.endpoint).host : `s3.${target.region}.amazonaws.com`;
  const say = (kind: S3FailureKind, message: string): S3Failure => ({ kind, message: redact(message, credentials) });
  if (err instanceof S3ServiceException) {
    const status = err.$metadata?.httpStatusCode;
    switch (err.name) {
      case "NoSuchBucket":
        return say("bucket", `The bucket "${target.bucket}" does not exist at ${host}: create it, or correct the bucket name.`);
      case "InvalidAccessKeyId":
        return say("auth", `The server does not know this access key (InvalidAccessKeyId at ${host}): check the access key.`);
      case "SignatureDoesNotMatch":
        return say("auth", `The secret key does not match the access key (SignatureDoesNotMatch at ${host}): enter the secret key again.`);
      case "AccessDenied":
        return say("permission", `Access denied to s3://${target.bucket}/${target.prefix} at ${host}: the key needs permission to put, get, list and delete objects there.`);
      case "PermanentRedirect":
      case "AuthorizationHeaderMalformed":
        return say("region", `The bucket "${target.bucket}" is in another region than "${target.region}" (${err.name}): correct the region.`);
      case "NoSuchKey":
      case "NotFound":
        if (status === 404) return say("not_found", `The object does not exist in s3://${target.bucket}.`);
    }
    if (status === 403) return say("permission", `The server refused the request (403 ${err.name} at ${host}): check the keys and their permissions.`);
    if (status === 404) return say("bucket", `Not found (404 ${err.name} at ${host}): check the bucket name and the endpoint.`);
    if (status === 301) return say("region", `The server redirects elsewhere (301 at ${host}): correct the region or the endpoint.`);
    return say("other", `The S3 server answered ${status ?? "an error"} ${err.name}: ${err.message}`);
  }
  const code = errnoCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return say("dns", `The endpoint's host name ${host} could not be resolved (DNS ${code}): check the endpoint URL and this machine's DNS.`);
  if (code && TLS_CODES.test(code)) return say("tls", `The TLS connection to ${host} failed (${code}: ${message}): check the endpoint's certificate, or whether it speaks https at all.`);
  if (code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EHOSTUNREACH" || code === "ENETUNREACH") {
    return say("connection", `Nothing answers at ${host} (${code}): check the endpoint URL and port, and that the server is running.`);
  }
  if (code === "ETIMEDOUT" || (err as Error)?.name === "TimeoutError") return say("timeout", `${host} did not answer in time (${code ?? "timeout"}): check the endpoint and the network.`);
  if (/wrong version number|ssl|tls|certificate/i.test(message)) return say("tls", `The TLS connection to ${host} failed: ${message}`);
  return say("other", `Talking to ${host} failed: ${message}`);
}
