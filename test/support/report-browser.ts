/**
 * What the report page's browser tests share: Debian's chromium (or CHROMIUM_PATH), driven by playwright-core, and
 * a page loader that collects every console error (a CSP violation is one), page error and failed request.
 *
 * Without chromium a browser test file is skipped with a warning — except under CI=true, where importing this
 * throws: CI installs chromium (.ci/run), so its absence there is a broken setup, not a reason to pass.
 */
import { existsSync } from 'node:fs';
import type { Page, Response } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM && process.env.CI === 'true') {
  throw new Error(
    `report page browser test: no chromium at ${CHROMIUM} under CI=true (.ci/run installs the "chromium" package)`,
  );
}

/** Warns once per file that it is skipped. */
export function warnIfNoChromium(what: string): void {
  if (!HAVE_CHROMIUM) console.warn(`${what} SKIPPED: no chromium at ${CHROMIUM} (apt-get install chromium)`);
}

/** Loads `url`, collecting any console error, page error, JavaScript dialog, failed request or error response
 *  other than the page's own (a refusal page is the test's to check). */
export async function openPage(page: Page, url: string): Promise<{ response: Response; problems: string[] }> {
  const problems: string[] = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.type()} ${d.message()}`);
    void d.dismiss();
  });
  page.on('requestfailed', (r) => problems.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => r.status() >= 400 && r.url() !== url && problems.push(`${r.url()}: ${r.status()}`));
  const response = await page.goto(url);
  return { response: response!, problems };
}
