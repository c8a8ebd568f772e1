/**
 * The production tree stands alone: nothing under src/ imports from dev/ (test doubles, the signer, the demo), test/
 * or bench/, so the production compile (tsconfig.build.json, the image) contains none of them. Every module
 * specifier in src/ — static and dynamic imports, `export … from` — is resolved against its file and checked.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/processes.js';

const SRC = join(REPO_ROOT, 'src');
const OUTSIDE_PRODUCT = ['dev', 'test', 'bench'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(c|m)?tsx?$/.test(e.name) ? [path] : [];
  });
}

/** Module specifiers of `from '…'`, `import '…'` and `import('…')`. */
function specifiers(source: string): string[] {
  const out: string[] = [];
  for (const re of [
    /\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ]) {
    for (const m of source.matchAll(re)) out.push(m[1]!);
  }
  return out;
}

/** The top-level directory of the repository a relative specifier lands in (undefined for packages and node: modules). */
function landsIn(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return relative(REPO_ROOT, resolve(dirname(file), spec)).split(sep)[0];
}

describe('the production tree', () => {
  it('finds the specifiers it checks', () => {
    expect(
      specifiers(
        `import a from './a.js';\nexport { b } from "../b.js";\nimport './c.js';\nawait import('../../dev/d.js');`,
      ),
    ).toEqual(['./a.js', '../b.js', './c.js', '../../dev/d.js']);
  });

  it('src/ imports nothing from dev/, test/ or bench/', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(50);
    const offenders = files.flatMap((file) =>
      specifiers(readFileSync(file, 'utf8'))
        .filter((spec) => OUTSIDE_PRODUCT.includes(landsIn(file, spec) ?? ''))
        .map((spec) => `${relative(REPO_ROOT, file)} → ${spec}`),
    );
    expect(offenders).toEqual([]);
  });
});
