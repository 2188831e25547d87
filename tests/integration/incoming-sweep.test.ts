/**
 * Leftovers of uploads and imports: a process killed while receiving an archive leaves its
 * `.incoming-*.partial` in the backup folder. Its name carries its owner (pid and process
 * start time), so the next start removes it at once, and never one a live process is writing.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { incomingBaseName } from "@/server/backup/import";
import { INCOMING_PREFIX } from "@/server/backup/catalog";
import { spawnCli } from "../helpers/cli";
import { writeRandomFile } from "../helpers/files";
import { ourArchive, SAMPLE_ITEMS } from "../helpers/hostile-archives";
import { createTestApp, makeTempDir, type TestApp } from "../helpers/test-app";

let app: TestApp;
afterEach(() => app.cleanup());

const incoming = (a: TestApp) => fs.readdirSync(a.config.backupPath).filter((n) => n.startsWith(INCOMING_PREFIX));

describe("start-up after an import was killed", () => {
  it("removes the partial file of the dead importer at once, however young", async () => {
    app = createTestApp();
    await app.ready;
    const archive = path.join(makeTempDir(), "big.tar.gz");
    // A valid archive of a few MB, like the 4-20 MB leftovers seen in trials.
    const media = path.join(makeTempDir(), "media.bin");
    writeRandomFile(media, 4 * 1024 * 1024);
    fs.writeFileSync(archive, ourArchive([...SAMPLE_ITEMS, { path: "files/media.bin", content: fs.readFileSync(media) }]));

    const run = await spawnCli(["backup", "import", archive], { env: { ...app.env, BALUHOST_CRASH_AT: "import:received" } });
    expect(run.code).toBe(-1); // killed by SIGKILL
    const left = incoming(app);
    expect(left).toEqual([expect.stringMatching(/^\.incoming-p\d+-s\d+-.*\.partial$/)]);
    expect(fs.statSync(path.join(app.config.backupPath, left[0])).size).toBeGreaterThan(4 * 1024 * 1024);

    app = await app.restart();
    await app.ready;
    expect(incoming(app)).toEqual([]);
  });

  it("keeps the partial files of a live process, and young ones whose name has no owner", async () => {
    app = createTestApp();
    await app.ready;
    // This test process is alive: its upload is still being received.
    const live = `${incomingBaseName()}.partial`;
    const legacy = `${INCOMING_PREFIX}0b9e7a52-6f1c-4d0e-9d7a-2f3c4b5a6d7e.partial`;
    for (const name of [live, legacy]) fs.writeFileSync(path.join(app.config.backupPath, name), "receiving\n");

    app = await app.restart();
    await app.ready;
    expect(incoming(app).sort()).toEqual([live, legacy].sort());
  });

  it("removes an owner-less partial file that stopped growing over an hour ago", async () => {
    app = createTestApp();
    await app.ready;
    const legacy = path.join(app.config.backupPath, `${INCOMING_PREFIX}old.partial`);
    fs.writeFileSync(legacy, "abandoned\n");
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    fs.utimesSync(legacy, twoHoursAgo, twoHoursAgo);

    app = await app.restart();
    await app.ready;
    expect(incoming(app)).toEqual([]);
  });
});
