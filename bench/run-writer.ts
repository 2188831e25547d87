/**
 * One backup written by our engine in a process of its own, so that the benchmark can read
 * this process's peak RSS (process.resourceUsage().maxRSS) for the writer alone. Prints one
 * line of JSON. Usage: tsx bench/run-writer.ts --root DIR --out FILE [--level N] [--block-kib N]
 */
import { writeBackupArchive } from "../server/backup/archive";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const root = arg("root");
  const out = arg("out");
  if (!root || !out) throw new Error("usage: run-writer --root DIR --out FILE [--level N] [--block-kib N]");
  const level = arg("level") ? Number(arg("level")) : undefined;
  const blockSize = arg("block-kib") ? Number(arg("block-kib")) * 1024 : undefined;

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  // The writer scans the tree itself, as a full backup does.
  const result = await writeBackupArchive(
    {
      outputPath: out,
      trees: [{ name: "files", root }],
      meta: {
        format: "baluhost-backup",
        format_version: 1,
        app_version: "bench",
        migration_level: 0,
        backup_type: "files_only",
        parent: null,
        created_at: new Date().toISOString(),
        includes: { database: false, files: true, config: false },
      },
    },
    { level, blockSize },
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  console.log(
    JSON.stringify({
      wallMs,
      sizeBytes: result.sizeBytes,
      sha256: result.sha256,
      files: result.manifest.totals.files,
      bytes: result.manifest.totals.bytes,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      maxRssKb: process.resourceUsage().maxRSS,
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
