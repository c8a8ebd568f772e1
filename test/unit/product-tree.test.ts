/**
 * The production tree stands alone: nothing under src/ imports from dev/ (test doubles, the signer, the demo), test/
 * or bench/, so the production compile (tsconfig.build.json, the image) contains none of them. Every module
 * specifier in src/ — static and dynamic imports, `export … from` — is resolved against its file and checked.
 *
 * The layers inside it, checked the same way and through ESLint's own configuration (so a rule dropped from
 * eslint.config.js fails here): src/core imports no package but Node's and nothing outside src/core; src/chat
 * imports no store, target or on-call module (it reaches them through the core).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ESLint } from 'eslint';
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

/** The directory under src/ a relative specifier lands in ('core', 'store', … ; '' for a file directly in src/). */
function layerOf(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const parts = relative(SRC, resolve(dirname(file), spec)).split(sep);
  if (parts[0] === '..') return undefined;
  return parts.length > 1 ? parts[0] : '';
}

/** `file → specifier` for every import of the files under src/<layer> that `refused` says no to. */
function offendersIn(layer: string, refused: (file: string, spec: string) => boolean): string[] {
  const files = sourceFiles(join(SRC, layer));
  expect(files.length).toBeGreaterThan(10);
  return files.flatMap((file) =>
    specifiers(readFileSync(file, 'utf8'))
      .filter((spec) => refused(file, spec))
      .map((spec) => `${relative(REPO_ROOT, file)} → ${spec}`),
  );
}

const CHAT_MAY_NOT_IMPORT = ['store', 'targets', 'oncall'];

/** A top-level `let`/`var`, or a top-level collection (its contents can change); READONLY exempts a constant one. */
const MODULE_STATE = /^(export )?((let|var) |const \w+(: [^=]+)? = (new (Map|Set|WeakMap|WeakSet|Array)\b|\[\]|\{\}))/;
const READONLY = /^(export )?const \w+: Readonly(Map|Set)</;

/** The ESLint messages of the repository's configuration for `source` as if it were the file `path`. */
async function lint(path: string, source: string): Promise<string[]> {
  const [result] = await new ESLint({ cwd: REPO_ROOT }).lintText(source, { filePath: join(REPO_ROOT, path) });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
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

describe('the layers', () => {
  it('src/core imports no package but Node built-ins, and nothing outside src/core', () => {
    expect(
      offendersIn('core', (file, spec) =>
        spec.startsWith('.') ? layerOf(file, spec) !== 'core' : !spec.startsWith('node:'),
      ),
    ).toEqual([]);
  });

  it('src/core keeps no state at module level: a Broker per application holds it (core/broker.ts)', () => {
    const files = sourceFiles(join(SRC, 'core'));
    const offenders = files.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => MODULE_STATE.test(line) && !READONLY.test(line))
        .map((line) => `${relative(REPO_ROOT, file)}: ${line.trim()}`),
    );
    expect(offenders).toEqual([]);
    expect(MODULE_STATE.test('const batchers = new WeakMap<CoreDeps, Batcher>();')).toBe(true);
    expect(MODULE_STATE.test('let shared: Agent | undefined;')).toBe(true);
    expect(MODULE_STATE.test('  private readonly inFlight = new Map<number, Promise<unknown>>();')).toBe(false);
  });

  it('src/chat imports no store, target or on-call module', () => {
    expect(offendersIn('chat', (file, spec) => CHAT_MAY_NOT_IMPORT.includes(layerOf(file, spec) ?? ''))).toEqual([]);
  });

  it('finds a layer crossing where there is one', () => {
    const file = join(SRC, 'chat', 'slack', 'people.ts');
    expect(layerOf(file, '../../oncall/resolver.js')).toBe('oncall');
    expect(layerOf(file, '../../core/ports.js')).toBe('core');
    expect(layerOf(file, './notifier.js')).toBe('chat');
    expect(layerOf(file, '../../app.js')).toBe('');
    expect(layerOf(file, '@slack/web-api')).toBeUndefined();
  });

  it('ESLint refuses the same imports, at any depth, and allows the core', async () => {
    const use = (spec: string) => `import { x } from '${spec}';\nexport const y = x;\n`;
    const refused = (messages: string[]) => messages.some((m) => m.startsWith('no-restricted-imports:'));
    for (const [path, spec] of [
      ['src/core/probe.ts', '../store/index.js'],
      ['src/core/probe.ts', 'knex'],
      ['src/chat/probe.ts', '../store/index.js'],
      ['src/chat/slack/probe.ts', '../../targets/registry.js'],
      ['src/chat/slack/listeners/probe.ts', '../../../oncall/resolver.js'],
      ['src/chat/teams/cards/probe.ts', '../../../../store/knex-state-store.js'],
      ['src/chat/slack/probe.ts', '../../../dev/slack/double.js'],
    ] as const) {
      expect(refused(await lint(path, use(spec))), `${path} → ${spec}`).toBe(true);
    }
    for (const [path, spec] of [
      ['src/chat/slack/probe.ts', '../../core/ports.js'],
      ['src/chat/teams/probe.ts', '../markup.js'],
      ['src/app.ts', './store/index.js'],
    ] as const) {
      expect(refused(await lint(path, use(spec))), `${path} → ${spec}`).toBe(false);
    }
  }, 30_000);
});
