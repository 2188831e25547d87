import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { snapshotDatabase } from "@/server/backup/snapshot";
import { AppError } from "@/server/errors";

const ROW_BYTES = 4096;
const INITIAL_ROWS = 8_000; // ~35 MB: the snapshot spans many event-loop turns, so the writer gets in

function openWal(file: string): Database.Database {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 5000");
  return db;
}

function fillDatabase(db: Database.Database, rows: number): void {
  db.exec("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)");
  const insert = db.prepare("INSERT INTO items (payload) VALUES (?)");
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(crypto.randomBytes(ROW_BYTES));
  })();
}

describe("snapshotDatabase", () => {
  let dir: string;
  let sourcePath: string;
  let snapshotPath: string;
  const open: Database.Database[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "baluhost-snapshot-"));
    sourcePath = path.join(dir, "live.db");
    snapshotPath = path.join(dir, "staging", "baluhost.db");
    fs.mkdirSync(path.dirname(snapshotPath));
  });

  afterEach(() => {
    for (const db of open.splice(0)) if (db.open) db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function track(db: Database.Database): Database.Database {
    open.push(db);
    return db;
  }

  describe("of a WAL database another connection keeps writing to", () => {
    const DEADLINE_MS = 15_000;
    let loadDir: string;
    let copyPath: string;
    let writer: Database.Database;
    let outcome: {
      finishedInTime: boolean;
      elapsedMs: number;
      insertedDuring: number;
      writerError: unknown;
      sizeBytes: number | null;
    };

    /**
     * Snapshots a ~35 MB WAL database while a second connection inserts a row on every
     * event-loop turn. If the snapshot has not finished by the deadline, the writer stops
     * (so the snapshot can end) and the outcome says so.
     */
    beforeAll(async () => {
      loadDir = fs.mkdtempSync(path.join(os.tmpdir(), "baluhost-snapshot-load-"));
      const livePath = path.join(loadDir, "live.db");
      copyPath = path.join(loadDir, "baluhost.db");
      const source = openWal(livePath);
      fillDatabase(source, INITIAL_ROWS);
      writer = openWal(livePath);
      const insert = writer.prepare("INSERT INTO items (payload) VALUES (?)");

      let running = true;
      let insertedDuring = 0;
      let writerError: unknown = null;
      const loop = (async () => {
        while (running) {
          try {
            insert.run(crypto.randomBytes(64));
            insertedDuring++;
          } catch (err) {
            writerError = err;
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      })();

      const started = Date.now();
      const snapshot = snapshotDatabase(source, copyPath);
      let timer: NodeJS.Timeout | undefined;
      const finishedInTime = await Promise.race([
        snapshot.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), DEADLINE_MS))),
      ]);
      clearTimeout(timer);
      const elapsedMs = Date.now() - started;
      const during = insertedDuring;
      running = false;
      await loop;
      const result = await snapshot.catch(() => null);
      source.close();
      outcome = { finishedInTime, elapsedMs, insertedDuring: during, writerError, sizeBytes: result?.sizeBytes ?? null };
    }, 180_000);

    afterAll(() => {
      if (writer?.open) writer.close();
      fs.rmSync(loadDir, { recursive: true, force: true });
    });

    it("finishes while the other connection keeps writing", () => {
      expect(outcome.finishedInTime, `snapshot still running after ${DEADLINE_MS} ms of concurrent writes`).toBe(true);
    });

    it("lets the writer keep inserting while the snapshot runs", () => {
      expect(outcome.writerError).toBeNull();
      expect(outcome.insertedDuring).toBeGreaterThan(0);
    });

    it("produces a copy that passes the integrity check", () => {
      const copy = track(new Database(copyPath, { readonly: true }));
      expect(copy.pragma("integrity_check", { simple: true })).toBe("ok");
    });

    it("produces a self-contained copy that is not in WAL mode", () => {
      const copy = track(new Database(copyPath, { readonly: true }));
      expect(copy.pragma("journal_mode", { simple: true })).not.toBe("wal");
      copy.close();
      expect(fs.existsSync(`${copyPath}-wal`)).toBe(false);
      expect(fs.existsSync(`${copyPath}-shm`)).toBe(false);
    });

    it("reports the size of the file it wrote", () => {
      expect(outcome.sizeBytes).toBe(fs.statSync(copyPath).size);
      expect(outcome.sizeBytes).toBeGreaterThan(INITIAL_ROWS * ROW_BYTES);
    });

    it("holds a consistent prefix of the rows: all of 1..N, none missing in the middle", () => {
      const copy = track(new Database(copyPath, { readonly: true }));
      const { n, max, min } = copy.prepare("SELECT COUNT(*) AS n, MAX(id) AS max, MIN(id) AS min FROM items").get() as {
        n: number;
        max: number;
        min: number;
      };
      expect(min).toBe(1);
      expect(max).toBe(n);
      expect(n).toBeGreaterThanOrEqual(INITIAL_ROWS);
      const live = (writer.prepare("SELECT COUNT(*) AS n FROM items").get() as { n: number }).n;
      expect(n).toBeLessThanOrEqual(live);
    });
  });

  it("stays consistent while the app's own connection writes during the snapshot", async () => {
    const source = track(openWal(sourcePath));
    fillDatabase(source, 4_000);
    const insert = source.prepare("INSERT INTO items (payload) VALUES (?)");
    let running = true;
    let insertedDuring = 0;
    const loop = (async () => {
      while (running) {
        insert.run(crypto.randomBytes(64));
        insertedDuring++;
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    })();
    try {
      await snapshotDatabase(source, snapshotPath);
    } finally {
      running = false;
      await loop;
    }
    expect(insertedDuring).toBeGreaterThan(0);
    const copy = track(new Database(snapshotPath, { readonly: true }));
    expect(copy.pragma("integrity_check", { simple: true })).toBe("ok");
    const { n, max } = copy.prepare("SELECT COUNT(*) AS n, MAX(id) AS max FROM items").get() as { n: number; max: number };
    expect(max).toBe(n);
    expect(n).toBeGreaterThanOrEqual(4_000);
  });

  it("refuses a source whose pages are corrupt, naming the integrity check", async () => {
    // A plain (rollback-journal) database, so the damage is in the file the backup reads.
    const plain = new Database(sourcePath);
    plain.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)");
    plain.exec("CREATE INDEX items_payload ON items (payload)");
    const insert = plain.prepare("INSERT INTO items (payload) VALUES (?)");
    plain.transaction(() => {
      for (let i = 0; i < 2_000; i++) insert.run(crypto.randomBytes(200));
    })();
    const pageSize = plain.pragma("page_size", { simple: true }) as number;
    const indexRoot = (plain.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'items_payload'").get() as { rootpage: number })
      .rootpage;
    plain.close();
    // Scribble over an interior page of the index: the file still opens, the b-tree is broken.
    const fd = fs.openSync(sourcePath, "r+");
    fs.writeSync(fd, crypto.randomBytes(pageSize - 200), 0, pageSize - 200, (indexRoot - 1) * pageSize + 100);
    fs.closeSync(fd);

    const source = track(new Database(sourcePath));
    const err = await snapshotDatabase(source, snapshotPath).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).message).toMatch(/integrity check/);
  });
});
