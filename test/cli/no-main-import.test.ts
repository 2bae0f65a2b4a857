/**
 * The CLI entry point (`src/cli/main.ts`) imports every command module; a command that imported
 * `main.ts` back (even `import type`) would be an import cycle. Commands take `CliIo`/`CliCommand`
 * from `src/cli/types.ts` and `describeError` from `src/cli/errors.ts`. These tests read the real
 * import specifiers with TypeScript's pre-processor (static, type-only, re-exports and dynamic
 * `import()`), so a cycle through a helper module (a command → context.ts → main.ts) fails too.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');
const CLI = join(SRC, 'cli');
const MAIN = join(CLI, 'main.ts');
const COMMANDS = join(CLI, 'commands');

/** Every module specifier `source` imports or re-exports, type-only and dynamic ones included. */
function specifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** The `.ts` file a relative specifier of `from` names (`./x.js` → `./x.ts`), or undefined. */
function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec);
  const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => c.endsWith('.ts') && existsSync(c));
}

/** The local modules `file` imports, resolved. */
function localImports(file: string): string[] {
  return specifiers(readFileSync(file, 'utf8'))
    .map((s) => resolveLocal(file, s))
    .filter((f): f is string => f !== undefined);
}

/** One import path from `start` to `target` through src/, or undefined when there is none. */
function pathTo(start: string, target: string): string[] | undefined {
  const seen = new Set<string>([start]);
  const queue: string[][] = [[start]];
  while (queue.length > 0) {
    const path = queue.shift()!;
    for (const next of localImports(path[path.length - 1]!)) {
      if (next === target) return [...path, next];
      if (!next.startsWith(SRC) || seen.has(next)) continue;
      seen.add(next);
      queue.push([...path, next]);
    }
  }
  return undefined;
}

const rel = (f: string) => relative(ROOT, f);
const commandFiles = readdirSync(COMMANDS)
  .filter((n) => n.endsWith('.ts'))
  .map((n) => join(COMMANDS, n));

describe('CLI import graph: commands never import main.ts', () => {
  it('reads type-only, re-export and dynamic imports (the check is not blind)', () => {
    const sample = [
      "import type { CliIo } from '../main.js';",
      "import { describeError } from '../errors.js';",
      "export type { CliCommand } from '../types.js';",
      "const m = () => import('./commands/play.js');",
    ].join('\n');
    expect(specifiers(sample)).toEqual(['../main.js', '../errors.js', '../types.js', './commands/play.js']);
    // main.ts reaches every command (through its loaders), so the walk below does follow edges.
    expect(commandFiles.length).toBeGreaterThanOrEqual(6);
    for (const cmd of commandFiles) expect(pathTo(MAIN, cmd), rel(cmd)).toBeDefined();
  });

  it('no module under src/cli other than main.ts names main.js in an import', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const f = join(dir, e.name);
        if (e.isDirectory()) walk(f);
        else if (f.endsWith('.ts') && f !== MAIN && localImports(f).includes(MAIN)) offenders.push(rel(f));
      }
    };
    walk(CLI);
    expect(offenders).toEqual([]);
  });

  it.each(commandFiles.map((f) => [rel(f), f]))('%s does not reach main.ts through any import', (_name, file) => {
    const cycle = pathTo(file, MAIN);
    expect(cycle?.map(rel)).toBeUndefined();
  });

  it('the shared CLI types and helpers live outside main.ts, which still re-exports them', async () => {
    const mainSpecs = specifiers(readFileSync(MAIN, 'utf8'));
    expect(mainSpecs).toContain('./types.js');
    expect(mainSpecs).toContain('./errors.js');
    const viaMain = await import('../../src/cli/main.js');
    const direct = await import('../../src/cli/errors.js');
    expect(viaMain.describeError).toBe(direct.describeError);
    const err = new Error('closed before ready', { cause: new Error('HTTP 401') });
    expect(direct.describeError(err)).toBe('closed before ready: caused by: HTTP 401');
  });
});
