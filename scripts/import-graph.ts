/**
 * The import graph of functions/: which module imports which (type-only imports count:
 * a loop through types is still a loop for a reader), the layers' rules, and any cycle.
 *
 *   node scripts/import-graph.ts            prints the graph of handlers, lambda and wiring
 *   node scripts/import-graph.ts --all      every module of functions/
 *
 * Exits 1 when a rule is broken or a cycle exists; test/unit/import-graph.test.ts runs
 * the same check. Imports are read with TypeScript's own pre-processor, so comments and
 * strings never count.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface ImportGraph {
  /** Module (path from the repository root) -> the modules of functions/ it imports. */
  edges: Map<string, string[]>;
}

/** Layer rules: [importer folder, imported module or folder, why it must not]. */
export const RULES: ReadonlyArray<readonly [string, string, string]> = [
  ['functions/handlers/', 'functions/wiring/', 'handlers are plain (deps) => handler functions'],
  ['functions/handlers/', 'functions/lambda/', 'handlers know nothing of Lambda'],
  ['functions/core/', 'functions/adapters/', 'core imports no adapter'],
  ['functions/wiring/', 'functions/lambda/', 'the entry points use the wiring, not the reverse'],
  ['functions/local/', 'functions/wiring/aws.ts', 'only the Lambda entry points build AWS deps'],
  ['functions/adapters/', 'functions/wiring/', 'adapters are parts, assembled by the wiring'],
];

export function readImportGraph(root = ROOT): ImportGraph {
  const files = listTs(path.join(root, 'functions')).map((file) => path.relative(root, file));
  const known = new Set(files);
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const source = readFileSync(path.join(root, file), 'utf8');
    const imported = ts
      .preProcessFile(source, true, true)
      .importedFiles.map((ref) => ref.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => path.normalize(path.join(path.dirname(file), name)))
      .filter((target) => known.has(target));
    edges.set(file, [...new Set(imported)].sort());
  }
  return { edges };
}

/** Every import that breaks a layer rule, as "importer -> imported: why". */
export function ruleViolations(graph: ImportGraph): string[] {
  const found: string[] = [];
  for (const [from, targets] of graph.edges)
    for (const to of targets)
      for (const [importer, imported, why] of RULES)
        if (from.startsWith(importer) && to.startsWith(imported)) found.push(`${from} -> ${to}: ${why}`);
  return found;
}

/** Import cycles (strongly connected components of more than one module, or a self-import). */
export function cycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.edges.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(target) ?? 0));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(target) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || graph.edges.get(node)?.includes(node)) found.push(component.sort());
  };
  for (const node of graph.edges.keys()) if (!index.has(node)) visit(node);
  return found;
}

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return listTs(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

const LAYERS = ['functions/lambda/', 'functions/handlers/', 'functions/wiring/'];

function main(): void {
  const all = process.argv.includes('--all');
  const graph = readImportGraph();
  const shown = [...graph.edges].filter(([file]) => all || LAYERS.some((layer) => file.startsWith(layer)));
  const strip = (file: string) => file.replace(/^functions\//, '');
  for (const [file, targets] of shown)
    console.log(`${strip(file)} -> ${targets.map(strip).join(', ') || '(nothing)'}`);
  const importers = [...graph.edges]
    .filter(([, targets]) => targets.includes('functions/wiring/aws.ts'))
    .map(([file]) => strip(file));
  console.log(`\nimporters of wiring/aws.ts: ${importers.join(', ')}`);
  const broken = ruleViolations(graph);
  const loops = cycles(graph);
  console.log(
    `${graph.edges.size} modules in functions/, ${[...graph.edges.values()].flat().length} imports (type-only included)`,
  );
  console.log(
    broken.length ? `layer rules broken:\n  ${broken.join('\n  ')}` : `layer rules: all ${RULES.length} kept`,
  );
  console.log(
    loops.length ? `cycles:\n  ${loops.map((c) => c.map(strip).join(' <-> ')).join('\n  ')}` : 'cycles: none',
  );
  if (broken.length || loops.length) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
