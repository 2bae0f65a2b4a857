/**
 * Keeps the documentation honest:
 * - every relative link in README.md and docs/**\/*.md (generated docs/api excluded) points to a
 *   file or folder that exists;
 * - every TypeScript code block in docs/guides/*.md imports from the package only through its two
 *   public entry points (`argon-voice`, `argon-voice/emulator`), and only names those entry points
 *   really export. The export lists come from the TypeScript compiler (so `export *` chains are
 *   followed exactly as a consumer of the package would see them), not from a hand-kept list;
 * - every such block type-checks against the sources, so an option or method that was renamed
 *   breaks this test instead of the reader's build (fence info `ts nocheck` opts a fragment out).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Public entry points of the package (package.json `exports`) and the source that backs each. */
const ENTRY_POINTS: Readonly<Record<string, string>> = {
  'argon-voice': join(ROOT, 'src/index.ts'),
  'argon-voice/emulator': join(ROOT, 'src/emulator/index.ts'),
  'argon-voice/cluster': join(ROOT, 'src/cluster/index.ts'),
};

/** README.md plus every Markdown file under docs/, except the generated API reference. */
function markdownFiles(): string[] {
  const out = [join(ROOT, 'README.md')];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (p !== join(ROOT, 'docs/api')) walk(p);
      } else if (entry.name.endsWith('.md')) out.push(p);
    }
  };
  walk(join(ROOT, 'docs'));
  return out;
}

/** Replaces fenced code blocks with blanks (line numbers are kept). */
function stripFences(markdown: string): string {
  return markdown.replace(/^([ \t]*)(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\2[ \t]*$/gm, (m) => m.replace(/[^\n]/g, ' '));
}

/** Replaces fenced code blocks and inline code spans with blanks (line numbers are kept). */
function stripCode(markdown: string): string {
  return stripFences(markdown).replace(/(`+)(?!`)[\s\S]*?[^`]\1(?!`)/g, (m) => m.replace(/[^\n]/g, ' '));
}

/** Link targets in a Markdown text: inline links and images, reference definitions, HTML href/src. */
function linkTargets(markdown: string): { target: string; line: number }[] {
  const text = stripCode(markdown);
  const found: { target: string; line: number }[] = [];
  const lineAt = (index: number) => text.slice(0, index).split('\n').length;
  const patterns = [
    /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g,
    /^[ \t]{0,3}\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:[ \t]+.*)?$/gm,
    /\b(?:href|src)\s*=\s*"([^"]+)"/g,
  ];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) found.push({ target: m[1]!, line: lineAt(m.index ?? 0) });
  }
  return found;
}

/** True for targets that are not files of this repository (URLs, mail). */
function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');
}

/** GitHub's anchors for the headings of a Markdown text (`## Lower level: \`X\`` → `lower-level-x`). */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of stripFences(markdown).matchAll(/^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = m[1]!
      .replace(/`/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** A fenced TypeScript block of a guide, with the line its code starts on. */
interface CodeBlock {
  file: string;
  line: number;
  code: string;
  /** The fence's info string has `nocheck`: a fragment that is not type-checked. */
  nocheck: boolean;
}

function typescriptBlocks(file: string): CodeBlock[] {
  const text = readFileSync(file, 'utf8');
  const blocks: CodeBlock[] = [];
  const re = /^([ \t]*)(`{3,}|~{3,})[ \t]*(ts|typescript|mts|tsx)\b([^\n]*)\n([\s\S]*?)^\1\2[ \t]*$/gm;
  for (const m of text.matchAll(re)) {
    blocks.push({
      file,
      line: text.slice(0, m.index ?? 0).split('\n').length + 1,
      code: m[5]!,
      nocheck: /\bnocheck\b/.test(m[4]!),
    });
  }
  return blocks;
}

/** One import of a package name found in a code block. */
interface PackageImport {
  specifier: string;
  /** Imported (not local) names; `default` for a default import; empty for `* as ns`. */
  names: string[];
  line: number;
}

/** Every import/export-from of `argon-voice` or one of its subpaths in `code`. */
function packageImports(code: string): PackageImport[] {
  const sf = ts.createSourceFile('block.ts', code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: PackageImport[] = [];
  const isOurs = (s: string) => s === 'argon-voice' || s.startsWith('argon-voice/');
  const lineOf = (node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && isOurs(node.moduleSpecifier.text)) {
      const names: string[] = [];
      const clause = node.importClause;
      if (clause?.name) names.push('default');
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamedImports(bindings)) {
        for (const el of bindings.elements) names.push((el.propertyName ?? el.name).text);
      }
      out.push({ specifier: node.moduleSpecifier.text, names, line: lineOf(node) });
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier) &&
      isOurs(node.moduleSpecifier.text)
    ) {
      const names: string[] = [];
      if (node.exportClause && ts.isNamedExports(node.exportClause)) {
        for (const el of node.exportClause.elements) names.push((el.propertyName ?? el.name).text);
      }
      out.push({ specifier: node.moduleSpecifier.text, names, line: lineOf(node) });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0]) &&
      isOurs(node.arguments[0].text)
    ) {
      out.push({ specifier: node.arguments[0].text, names: [], line: lineOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** A guide's code block compiled as a module of its own (never written to disk). */
interface VirtualBlock extends CodeBlock {
  path: string;
}

/**
 * One compiler program over the two entry points and every guide code block (each a virtual
 * module next to its guide, with `argon-voice` and `argon-voice/emulator` mapped to the entry
 * points' sources). Yields the names each entry point exports, as the compiler resolves them
 * (`export *` included), and the type errors of the blocks.
 */
function compileGuides(blocks: CodeBlock[]): {
  exported: Map<string, Set<string>>;
  blockErrors: string[];
} {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: true,
    paths: Object.fromEntries(Object.entries(ENTRY_POINTS).map(([spec, file]) => [spec, [file]])),
  };
  const virtual = new Map<string, VirtualBlock>();
  blocks.forEach((b, i) => {
    const path = join(dirname(b.file), `__docs_block_${i}.ts`);
    virtual.set(path, { ...b, path });
  });
  const host = ts.createCompilerHost(options);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (f) => virtual.has(resolve(f)) || fileExists(f);
  host.readFile = (f) => virtual.get(resolve(f))?.code ?? readFile(f);
  host.getSourceFile = (f, lang, onError, create) => {
    const v = virtual.get(resolve(f));
    return v ? ts.createSourceFile(f, v.code, lang, true, ts.ScriptKind.TS) : getSourceFile(f, lang, onError, create);
  };
  const program = ts.createProgram([...Object.values(ENTRY_POINTS), ...virtual.keys()], options, host);
  const checker = program.getTypeChecker();
  const exported = new Map<string, Set<string>>();
  for (const [specifier, file] of Object.entries(ENTRY_POINTS)) {
    const sf = program.getSourceFile(file);
    if (!sf) throw new Error(`entry point ${relative(ROOT, file)} is missing`);
    const moduleSymbol = checker.getSymbolAtLocation(sf);
    const names = moduleSymbol ? checker.getExportsOfModule(moduleSymbol).map((s) => s.name) : [];
    exported.set(specifier, new Set(names));
  }
  const blockErrors: string[] = [];
  for (const v of virtual.values()) {
    const sf = program.getSourceFile(v.path);
    if (!sf) continue;
    for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
      const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line;
      blockErrors.push(
        `${relative(ROOT, v.file)}:${v.line + line}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
      );
    }
  }
  return { exported, blockErrors };
}

describe('documentation links', () => {
  it('every relative link in README.md and docs/**/*.md points to an existing file (and heading)', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of markdownFiles()) {
      for (const { target, line } of linkTargets(readFileSync(file, 'utf8'))) {
        if (isExternal(target)) continue;
        const path = decodeURIComponent(target.replace(/[#?].*$/, ''));
        const anchor = /#(.*)$/.exec(target)?.[1];
        const abs = !path ? file : path.startsWith('/') ? join(ROOT, path) : resolve(dirname(file), path);
        checked++;
        if (!existsSync(abs)) {
          broken.push(`${relative(ROOT, file)}:${line} → ${target}`);
        } else if (
          anchor &&
          abs.endsWith('.md') &&
          !headingAnchors(readFileSync(abs, 'utf8')).has(decodeURIComponent(anchor))
        ) {
          broken.push(`${relative(ROOT, file)}:${line} → ${target} (no such heading)`);
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(broken).toEqual([]);
  });

  it('computes GitHub heading anchors', () => {
    const md = '# Guide: a bot\n## Lower level: `CallManager`\n## Notes\n## Notes\n```\n# not a heading\n```\n';
    expect([...headingAnchors(md)]).toEqual(['guide-a-bot', 'lower-level-callmanager', 'notes', 'notes-1']);
  });

  it('finds links but not ones inside code', () => {
    const md =
      'See [a](a.md), ![img](img/x.png "t") and `[no](code.md)`.\n\n```ts\n[no](fenced.md)\n```\n[ref]: ./ref.md\n';
    expect(linkTargets(md).map((l) => l.target)).toEqual(['a.md', 'img/x.png', './ref.md']);
  });
});

describe('guide code blocks', () => {
  const guides = existsSync(join(ROOT, 'docs/guides'))
    ? readdirSync(join(ROOT, 'docs/guides'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => join(ROOT, 'docs/guides', f))
    : [];
  let exported: Map<string, Set<string>>;
  let blockErrors: string[];
  beforeAll(() => {
    // A block whose fence says `ts nocheck` is a fragment: its imports are checked, its types not.
    const checked = guides.flatMap((g) => typescriptBlocks(g)).filter((b) => !b.nocheck);
    ({ exported, blockErrors } = compileGuides(checked));
  }, 120_000);

  it('there are guides with TypeScript examples importing the package', () => {
    const imports = guides.flatMap((g) => typescriptBlocks(g)).flatMap((b) => packageImports(b.code));
    expect(imports.length).toBeGreaterThan(0);
  });

  for (const guide of guides) {
    it(`${relative(ROOT, guide)} imports only names the package exports`, () => {
      const problems: string[] = [];
      for (const block of typescriptBlocks(guide)) {
        for (const imp of packageImports(block.code)) {
          const where = `${relative(ROOT, guide)}:${block.line + imp.line}`;
          const names = exported.get(imp.specifier);
          if (!names) {
            problems.push(
              `${where}: '${imp.specifier}' is not an entry point (use ${Object.keys(ENTRY_POINTS)
                .map((s) => `'${s}'`)
                .join(' or ')})`,
            );
            continue;
          }
          for (const name of imp.names) {
            if (!names.has(name)) problems.push(`${where}: '${imp.specifier}' does not export '${name}'`);
          }
        }
      }
      expect(problems).toEqual([]);
    });
  }

  it('every example type-checks against the sources (as `argon-voice` / `argon-voice/emulator`)', () => {
    expect(blockErrors).toEqual([]);
  });

  it('parses named, renamed, type-only, default and namespace imports', () => {
    const code = [
      "import { A, type B, C as D } from 'argon-voice';",
      "import E from 'argon-voice/emulator';",
      "import * as ns from 'argon-voice';",
      "import { X } from 'other';",
      "export { F } from 'argon-voice';",
      "const m = await import('argon-voice/internal');",
    ].join('\n');
    expect(packageImports(code)).toEqual([
      { specifier: 'argon-voice', names: ['A', 'B', 'C'], line: 0 },
      { specifier: 'argon-voice/emulator', names: ['default'], line: 1 },
      { specifier: 'argon-voice', names: [], line: 2 },
      { specifier: 'argon-voice', names: ['F'], line: 4 },
      { specifier: 'argon-voice/internal', names: [], line: 5 },
    ]);
  });
});
