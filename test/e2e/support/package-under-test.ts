// What this package declares and what the build produced: the end-to-end checks are driven by these, so a node
// added to package.json is checked without editing a test, and a node not built yet is reported as waiting.
import fs from 'fs';
import path from 'path';
import { buildIfStale, repoRoot } from '../../tools/local-node-red';

interface PackageJson {
  name: string;
  'node-red': { nodes: Record<string, string> };
}

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as PackageJson;

export const packageName = pkg.name;

/** Every node type package.json declares, with its compiled entry (dist/nodes/<type>/<type>.js). */
export const declaredNodes: ReadonlyArray<{ type: string; entry: string }> = Object.entries(pkg['node-red'].nodes).map(
  ([type, entry]) => ({ type, entry }),
);

/** A node is built when its compiled .js and its editor .html sit side by side in dist/. */
export function isBuilt(type: string): boolean {
  const node = declaredNodes.find((n) => n.type === type);
  if (!node) return false;
  const js = path.join(repoRoot, node.entry);
  return fs.existsSync(js) && fs.existsSync(js.replace(/\.js$/, '.html'));
}

/** The palette category ARCHITECTURE.md assigns to a type, by its prefix. */
export function expectedCategory(type: string): 'IBKR' | 'MIA_IA' | 'Sierra' {
  if (type.startsWith('ibkr-')) return 'IBKR';
  if (type.startsWith('mia-')) return 'MIA_IA';
  if (type.startsWith('sierra-')) return 'Sierra';
  throw new Error(`${type} has no known prefix (ibkr-, mia-, sierra-)`);
}

/** The example flows the build copied to examples/, as Import › Examples names them (path without .json). */
export function exampleFlows(): string[] {
  const root = path.join(repoRoot, 'examples');
  const found: string[] = [];
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.json')) found.push(path.relative(root, full).replace(/\.json$/, ''));
    }
  };
  walk(root);
  return found.sort();
}

let built: { error: Error | null } | null = null;

/** Builds dist/ if it is stale, once per test run; rethrows the same build error to every suite that asks. */
export function buildOnce(): void {
  if (!built) {
    try {
      buildIfStale({ quiet: true });
      built = { error: null };
    } catch (err) {
      built = { error: err instanceof Error ? err : new Error(String(err)) };
    }
  }
  if (built.error) throw built.error;
}
