/**
 * Accessibility checks with axe-core, run inside the page under test. The rules are
 * WCAG 2.0/2.1 A and AA plus axe's best practices; a serious or critical violation fails
 * the test with a list a person can act on (rule, impact, the elements, the help page).
 * Minor and moderate findings are not failures, but `scanA11y` returns them for a report.
 * E2E_A11Y_REPORT_ONLY=1 records without failing (to count what is left while fixing).
 */
import { createRequire } from "node:module";
import fs from "node:fs";
import type { Page } from "playwright-core";
import type { AxeResults, ImpactValue, Result } from "axe-core";

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export const A11Y_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];
const FAILING: ReadonlySet<ImpactValue> = new Set(["serious", "critical"]);

export interface A11yFinding {
  id: string;
  impact: ImpactValue | null;
  help: string;
  helpUrl: string;
  targets: string[];
  /** For color-contrast: "4.34:1 (#6b7280 on #f1f3f6)" per element. */
  notes: string[];
}

/** Every violation on the page as it is now (after the caller waited for what it wants checked). */
export async function scanA11y(page: Page, options: { include?: string } = {}): Promise<A11yFinding[]> {
  const loaded = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe !== "undefined");
  if (!loaded) await page.addScriptTag({ content: AXE_SOURCE });
  const results = (await page.evaluate(
    async ({ tags, include }) => {
      const axe = (window as unknown as { axe: typeof import("axe-core") }).axe;
      return axe.run(include ? { include: [include] } : document, {
        runOnly: { type: "tag", values: tags },
        resultTypes: ["violations"],
      });
    },
    { tags: A11Y_TAGS, include: options.include },
  )) as AxeResults;
  return results.violations.map((v: Result) => ({
    id: v.id,
    impact: v.impact ?? null,
    help: v.help,
    helpUrl: v.helpUrl,
    targets: v.nodes.map((n) => n.target.map(String).join(" ")),
    notes: v.nodes.flatMap((n) =>
      n.any
        .map((check) => check.data as { contrastRatio?: number; fgColor?: string; bgColor?: string } | null)
        .filter((d) => d && typeof d.contrastRatio === "number")
        .map((d) => `${d!.contrastRatio}:1 (${d!.fgColor} on ${d!.bgColor})`),
    ),
  }));
}

export function formatFindings(findings: A11yFinding[]): string {
  return findings
    .map((f) => {
      const lines = f.targets.slice(0, 8).map((t, i) => (f.notes[i] ? `${t}  ${f.notes[i]}` : t));
      if (f.targets.length > 8) lines.push(`… and ${f.targets.length - 8} more`);
      return `- [${f.impact}] ${f.id}: ${f.help}\n    ${lines.join("\n    ")}\n    ${f.helpUrl}`;
    })
    .join("\n");
}

/** Findings of every scan in this test file, for a summary in test-output/e2e. */
export const a11yLog: Array<{ label: string; findings: A11yFinding[] }> = [];

/**
 * Runs axe on the page and throws when it finds a serious or critical violation. `label`
 * names the state checked ("Backup tab, dark, phone") in the failure message.
 */
export async function expectNoSeriousA11yViolations(page: Page, label: string, options: { include?: string } = {}): Promise<void> {
  const findings = await scanA11y(page, options);
  a11yLog.push({ label, findings });
  const failing = findings.filter((f) => f.impact !== null && FAILING.has(f.impact));
  if (failing.length > 0 && !process.env.E2E_A11Y_REPORT_ONLY) {
    throw new Error(`axe found ${failing.length} serious or critical violation(s) on ${label}:\n${formatFindings(failing)}`);
  }
}
