/**
 * Offsite targets: S3-compatible buckets (AWS S3, Ceph radosgw, MinIO, Backblaze B2, Wasabi,
 * Garage) that finished backups are copied to. Create, update, remove and list, validated with
 * the zod schemas below that the tRPC router, the REST routes and the CLI share.
 *
 * Invariants: the access key and the secret key are written together to one secret file
 * (data/secrets/offsite-target-<id>, ../secret-files.ts), never to the database, never
 * returned (records say `has_secret`), never put in the audit log; an update without keys
 * keeps the saved ones. Target ids come from an AUTOINCREMENT key, so a removed target's
 * secret file name is never reused. Removing a target leaves its bucket untouched.
 */
import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import type { AppDatabase } from "@/db/client";
import { offsiteTargets, type OffsiteTarget } from "@/db/schema";
import { recordAudit, type Actor } from "../../audit";
import type { AppConfig } from "../../config";
import { AppError, describeError } from "../../errors";
import { readSecretFile, removeSecretFile, writeSecretFile } from "../secret-files";

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const secretName = (targetId: number) => `offsite-target-${targetId}`;

const nameSchema = z.string().trim().min(1, "Give the target a name").max(100, "At most 100 characters");
const endpointSchema = z
  .string()
  .trim()
  .max(2000)
  .refine((u) => u === "" || URL.canParse(u), "Enter the full URL, e.g. https://s3.eu-central-1.amazonaws.com, or leave it empty for AWS S3")
  .refine((u) => u === "" || ["http:", "https:"].includes(new URL(u).protocol), "Only http:// and https:// endpoints are supported")
  .refine((u) => u === "" || (!new URL(u).username && !new URL(u).password), "Leave keys out of the URL: enter them as access key and secret key");
// S3 bucket naming rules (also what B2, MinIO and Ceph accept): 3-63 lower-case letters, digits, dots, hyphens.
const bucketSchema = z
  .string()
  .trim()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "A bucket name is 3-63 lower-case letters, digits, dots and hyphens");
const prefixSchema = z
  .string()
  .trim()
  .max(512)
  .transform((p) => p.replace(/^\/+|\/+$/g, ""))
  .refine((p) => !p.split("/").some((s) => s === ".." || s === "."), "The prefix cannot contain . or .. segments");
const regionSchema = z.string().trim().min(1, "Enter the region (us-east-1 when the provider has none)").max(64).regex(/^[a-z0-9-]+$/, "A region is lower-case letters, digits and hyphens");
const storageClassSchema = z.string().trim().regex(/^[A-Z_]{2,40}$/, "A storage class like STANDARD_IA or GLACIER_IR").nullable();
const keepCountSchema = z.number().int().min(1, "Keep at least 1 copy, or no limit (null)").max(10000).nullable();
const keepDaysSchema = z.number().int().min(1, "At least 1 day, or no limit (null)").max(36500).nullable();
const accessKeySchema = z.string().trim().min(1, "Enter the access key").max(256);
const secretKeySchema = z.string().min(1, "Enter the secret key").max(1024);

export const createTargetInput = z.object({
  name: nameSchema,
  endpoint: endpointSchema.default(""),
  region: regionSchema.default("us-east-1"),
  bucket: bucketSchema,
  prefix: prefixSchema.default(""),
  /** Path-style URLs (endpoint/bucket/key): needed by Ceph, MinIO and most self-hosted servers. */
  force_path_style: z.boolean().default(false),
  storage_class: storageClassSchema.default(null),
  enabled: z.boolean().default(true),
  keep_count: keepCountSchema.default(null),
  keep_days: keepDaysSchema.default(null),
  access_key_id: accessKeySchema,
  secret_access_key: secretKeySchema,
});
export type CreateTargetInput = z.input<typeof createTargetInput>;

export const updateTargetInput = z.object({
  id: z.number().int().positive(),
  name: nameSchema.optional(),
  endpoint: endpointSchema.optional(),
  region: regionSchema.optional(),
  bucket: bucketSchema.optional(),
  prefix: prefixSchema.optional(),
  force_path_style: z.boolean().optional(),
  storage_class: storageClassSchema.optional(),
  enabled: z.boolean().optional(),
  keep_count: keepCountSchema.optional(),
  keep_days: keepDaysSchema.optional(),
  /** New keys, both together; left out, the saved ones are kept. */
  access_key_id: accessKeySchema.optional(),
  secret_access_key: secretKeySchema.optional(),
});
export type UpdateTargetInput = z.input<typeof updateTargetInput>;

export const targetIdSchema = z.coerce
  .number({ error: "The target id must be a number" })
  .int("The target id must be a whole number")
  .positive("The target id must be positive");

export const targetRecordSchema = z.object({
  id: z.number(),
  name: z.string(),
  endpoint: z.string(),
  region: z.string(),
  bucket: z.string(),
  prefix: z.string(),
  force_path_style: z.boolean(),
  storage_class: z.string().nullable(),
  enabled: z.boolean(),
  keep_count: z.number().nullable(),
  keep_days: z.number().nullable(),
  /** Whether keys are saved; the keys themselves are never returned. */
  has_secret: z.boolean(),
  /** Where copies go, in one line: s3://bucket/prefix at the endpoint. */
  location: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  last_test_at: z.string().nullable(),
  last_test_ok: z.boolean().nullable(),
  last_test_error: z.string().nullable(),
});
export type TargetRecord = z.output<typeof targetRecordSchema>;

export function targetLocation(row: Pick<OffsiteTarget, "endpoint" | "bucket" | "prefix">): string {
  const url = `s3://${row.bucket}${row.prefix ? `/${row.prefix}` : ""}`;
  return row.endpoint ? `${url} at ${new URL(row.endpoint).host}` : `${url} (AWS)`;
}

export function toTargetRecord(row: OffsiteTarget): TargetRecord {
  return {
    id: row.id,
    name: row.name,
    endpoint: row.endpoint,
    region: row.region,
    bucket: row.bucket,
    prefix: row.prefix,
    force_path_style: row.forcePathStyle,
    storage_class: row.storageClass,
    enabled: row.enabled,
    keep_count: row.keepCount,
    keep_days: row.keepDays,
    has_secret: row.hasSecret,
    location: targetLocation(row),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    last_test_at: row.lastTestAt?.toISOString() ?? null,
    last_test_ok: row.lastTestOk ?? null,
    last_test_error: row.lastTestError ?? null,
  };
}

export function listTargets(db: AppDatabase): TargetRecord[] {
  return db.select().from(offsiteTargets).orderBy(asc(offsiteTargets.name)).all().map(toTargetRecord);
}

export function getTargetRow(db: AppDatabase, id: number): OffsiteTarget {
  const row = db.select().from(offsiteTargets).where(eq(offsiteTargets.id, id)).get();
  if (!row) throw new AppError("NOT_FOUND", `Offsite target ${id} does not exist. List the targets to see their ids.`);
  return row;
}

/** A target by id ("3") or by name, for the CLI. */
export function findTarget(db: AppDatabase, idOrName: string): OffsiteTarget {
  const byName = db.select().from(offsiteTargets).where(eq(offsiteTargets.name, idOrName)).get();
  if (byName) return byName;
  if (/^\d+$/.test(idOrName)) return getTargetRow(db, Number(idOrName));
  throw new AppError("NOT_FOUND", `There is no offsite target named "${idOrName}". See: backup remote targets`);
}

/** The keys of a target; a missing file is an error the admin can fix. */
export async function targetCredentials(config: AppConfig, row: OffsiteTarget): Promise<S3Credentials> {
  const text = row.hasSecret ? await readSecretFile(config, secretName(row.id)) : null;
  if (text === null) {
    throw new AppError(
      "CONFLICT",
      `The keys of offsite target "${row.name}" are missing from ${config.secretsPath} ` +
        "(the data folder was moved without its secrets folder?). Edit the target and enter the keys again.",
    );
  }
  const parsed = JSON.parse(text) as Partial<S3Credentials>;
  if (!parsed.accessKeyId || !parsed.secretAccessKey) throw new AppError("CONFLICT", `The saved keys of offsite target "${row.name}" are unreadable: enter them again.`);
  return { accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey };
}

async function saveCredentials(config: AppConfig, targetId: number, credentials: S3Credentials): Promise<void> {
  await writeSecretFile(config, secretName(targetId), JSON.stringify(credentials));
}

function assertNameFree(db: AppDatabase, name: string, exceptId?: number): void {
  const other = db.select().from(offsiteTargets).where(eq(offsiteTargets.name, name)).get();
  if (other && other.id !== exceptId) throw new AppError("CONFLICT", `An offsite target named "${name}" already exists; choose another name.`);
}

/** The settable columns from an API input (left out = unchanged on update). */
function columnsOf(input: Omit<z.output<typeof updateTargetInput>, "id">) {
  return {
    name: input.name,
    endpoint: input.endpoint,
    region: input.region,
    bucket: input.bucket,
    prefix: input.prefix,
    forcePathStyle: input.force_path_style,
    storageClass: input.storage_class,
    enabled: input.enabled,
    keepCount: input.keep_count,
    keepDays: input.keep_days,
  };
}

/** What the audit log keeps of a target: never a key. */
function auditDetails(row: OffsiteTarget): Record<string, unknown> {
  return { name: row.name, location: targetLocation(row), enabled: row.enabled, keep_count: row.keepCount, keep_days: row.keepDays };
}

export async function createTarget(opts: { db: AppDatabase; config: AppConfig; actor: Actor; input: CreateTargetInput }): Promise<TargetRecord> {
  const { db, config, actor } = opts;
  try {
    const input = createTargetInput.parse(opts.input);
    assertNameFree(db, input.name);
    const now = new Date();
    const row = db
      .insert(offsiteTargets)
      .values({
        ...columnsOf(input),
        name: input.name,
        bucket: input.bucket,
        hasSecret: false,
        createdAt: now,
        updatedAt: now,
      })
      .returning()
      .get();
    // Row first (its id names the file), keys second, then the flag: a crash in between leaves
    // a target that asks for its keys again, never keys nobody knows about.
    await saveCredentials(config, row.id, { accessKeyId: input.access_key_id, secretAccessKey: input.secret_access_key });
    const saved = db.update(offsiteTargets).set({ hasSecret: true }).where(eq(offsiteTargets.id, row.id)).returning().get();
    recordAudit(db, { action: "offsite.target_create", actor, resource: `offsite_target:${row.id}`, success: true, details: auditDetails(saved) });
    return toTargetRecord(saved);
  } catch (err) {
    recordAudit(db, { action: "offsite.target_create", actor, success: false, errorMessage: describeError(err) });
    throw err;
  }
}

export async function updateTarget(opts: { db: AppDatabase; config: AppConfig; actor: Actor; input: UpdateTargetInput }): Promise<TargetRecord> {
  const { db, config, actor } = opts;
  const input = updateTargetInput.parse(opts.input);
  try {
    const row = getTargetRow(db, input.id);
    if ((input.access_key_id === undefined) !== (input.secret_access_key === undefined)) {
      throw new AppError("BAD_REQUEST", "Enter the access key and the secret key together (or neither, to keep the saved ones).");
    }
    if (input.name !== undefined) assertNameFree(db, input.name, row.id);
    if (input.access_key_id !== undefined && input.secret_access_key !== undefined) {
      await saveCredentials(config, row.id, { accessKeyId: input.access_key_id, secretAccessKey: input.secret_access_key });
    }
    const saved = db
      .update(offsiteTargets)
      .set({
        ...columnsOf(input),
        hasSecret: input.access_key_id !== undefined ? true : undefined,
        updatedAt: new Date(),
      })
      .where(eq(offsiteTargets.id, row.id))
      .returning()
      .get();
    recordAudit(db, {
      action: "offsite.target_update",
      actor,
      resource: `offsite_target:${row.id}`,
      success: true,
      details: { ...auditDetails(saved), keys_changed: input.access_key_id !== undefined },
    });
    return toTargetRecord(saved);
  } catch (err) {
    recordAudit(db, { action: "offsite.target_update", actor, resource: `offsite_target:${input.id}`, success: false, errorMessage: describeError(err) });
    throw err;
  }
}

/** Removes the target, its keys and its queue rows; what is in the bucket stays there. */
export async function removeTarget(opts: { db: AppDatabase; config: AppConfig; actor: Actor; id: number }): Promise<{ id: number; name: string }> {
  const { db, config, actor, id } = opts;
  const row = getTargetRow(db, id);
  db.delete(offsiteTargets).where(eq(offsiteTargets.id, id)).run();
  await removeSecretFile(config, secretName(id));
  recordAudit(db, { action: "offsite.target_remove", actor, resource: `offsite_target:${id}`, success: true, details: auditDetails(row) });
  return { id, name: row.name };
}
