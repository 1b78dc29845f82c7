// The corpus of real IBKR answers (test/fixtures/ibkr): each file holds one answer and the public source it was
// taken from (IBKR's documentation, or a public client's captured response). Never written by our simulator.
import fs from 'node:fs';
import path from 'node:path';

export interface CorpusSource {
  kind: 'ibkr-doc' | 'public-client';
  url?: string;
  repository?: string;
  path?: string;
}

export interface CorpusSample {
  file: string;
  endpoint: string;
  status: number;
  source: CorpusSource;
  body: unknown;
}

export const CORPUS_DIR = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'ibkr');

export function loadCorpus(): CorpusSample[] {
  return fs
    .readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, ...(JSON.parse(fs.readFileSync(path.join(CORPUS_DIR, file), 'utf8')) as Omit<CorpusSample, 'file'>) }));
}

export function sample(name: string): CorpusSample {
  const found = loadCorpus().find((s) => s.file === `${name}.json`);
  if (!found) throw new Error(`No corpus sample ${name}`);
  return found;
}

/** A deep copy of a sample's body, typed loosely for the tests that feed it to a parser. */
export function body<T = unknown>(name: string): T {
  return JSON.parse(JSON.stringify(sample(name).body)) as T;
}

/** The JSON type of every field, recursively ("string", "number", ...; arrays by their first element). */
export function shapeOf(value: unknown): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? [] : [shapeOf(value[0])];
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = shapeOf(v);
    return out;
  }
  return typeof value;
}
