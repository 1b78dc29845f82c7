// The trader-editable Battle Navale score: an expression over the named components, parsed and compiled ONCE with
// mathjs. Only numbers, the names below, arithmetic, comparisons, `? :` and a short list of math functions are
// accepted; everything else (assignments, function definitions, property access, strings, units, matrices, …) is
// refused at deploy with the offending symbol named. No JavaScript eval: mathjs builds closures from its own parse
// tree, and the parse tree is checked against the allow-list before it is compiled.
import type { MathNode } from 'mathjs';
import { InvalidInputError } from '../errors';
import { mathjs } from '../mathjs';

/** The values an expression may read, in the order the help lists them. */
export const SCORE_COMPONENTS = ['battle', 'trend', 'base', 'core', 'vwap', 'orderflow', 'gamma', 'vix'] as const;
/** The weight settings, readable by name so an expression can follow the node's weight fields. */
export const SCORE_WEIGHTS = [
  'coreBattleWeight',
  'coreTrendWeight',
  'coreBaseWeight',
  'scoreCoreWeight',
  'scoreVwapWeight',
  'scoreOrderflowWeight',
  'scoreGammaWeight',
] as const;
export type ScoreComponent = (typeof SCORE_COMPONENTS)[number];
export type ScoreWeight = (typeof SCORE_WEIGHTS)[number];
export type ScoreSymbol = ScoreComponent | ScoreWeight;
export const SCORE_SYMBOLS: readonly ScoreSymbol[] = [...SCORE_COMPONENTS, ...SCORE_WEIGHTS];

export const SCORE_FUNCTIONS = ['abs', 'min', 'max', 'sign', 'sqrt', 'exp', 'log', 'tanh', 'pow', 'round', 'floor', 'ceil'] as const;
const OPERATORS = new Set(['+', '-', '*', '/', '^', '<', '>', '<=', '>=', '==', '!=', 'and', 'or', 'not']);

/** Today's score (docs/battle-navale.md, "Score"), before the clamp to [−1, 1]. */
export const DEFAULT_SCORE_EXPRESSION =
  '(scoreCoreWeight * core + scoreVwapWeight * vwap + scoreOrderflowWeight * orderflow + scoreGammaWeight * gamma) * vix';

/** The parser of score expressions and the default formula's tree, made on the first compile (see ../mathjs). */
let parser: { parse: (text: string) => MathNode; defaultTree: MathNode } | undefined;
function scoreParser(): { parse: (text: string) => MathNode; defaultTree: MathNode } {
  if (parser) return parser;
  const { all, create } = mathjs();
  const math = create(all, { number: 'number', predictable: true });
  const parse = math.parse;
  // mathjs's advice for untrusted expressions (docs "Security"): functions that could reach the parser or change the
  // instance throw. The allow-list below already refuses their names; this is the second lock.
  const disabled = (name: string) => () => {
    throw new Error(`${name} is disabled in score expressions`);
  };
  math.import(
    {
      import: disabled('import'),
      createUnit: disabled('createUnit'),
      evaluate: disabled('evaluate'),
      parse: disabled('parse'),
      compile: disabled('compile'),
      simplify: disabled('simplify'),
      derivative: disabled('derivative'),
      resolve: disabled('resolve'),
      reviver: disabled('reviver'),
    },
    { override: true },
  );
  parser = { parse: (text) => parse(text), defaultTree: parse(DEFAULT_SCORE_EXPRESSION) };
  return parser;
}

const SYMBOLS = new Set<string>(SCORE_SYMBOLS);
const FUNCTIONS = new Set<string>(SCORE_FUNCTIONS);

export type ScoreValues = Readonly<Record<ScoreSymbol, number>>;

export interface ScoreFormula {
  /** The expression as the trader wrote it (trimmed). */
  readonly text: string;
  /** True when it is today's formula (same parse tree): the engine then keeps its native arithmetic. */
  readonly isDefault: boolean;
  /** The raw score (before the clamp) for these values; throws InvalidInputError when it is not a finite number. */
  evaluate(values: ScoreValues): number;
}

function refuse(text: string, why: string): never {
  throw new InvalidInputError(
    `Battle Navale score expression ${JSON.stringify(text)} is refused: ${why}. ` +
      `It may use numbers, ${SCORE_SYMBOLS.join(', ')}, + - * / ^, comparisons, and/or/not, a ? b : c, and ${SCORE_FUNCTIONS.join(', ')}().`,
  );
}

function check(node: MathNode, text: string): void {
  switch (node.type) {
    case 'ConstantNode': {
      const value = (node as unknown as { value: unknown }).value;
      if (typeof value !== 'number') refuse(text, `the constant ${JSON.stringify(value)} is not a number`);
      return;
    }
    case 'SymbolNode': {
      const name = (node as unknown as { name: string }).name;
      if (!SYMBOLS.has(name)) refuse(text, `unknown symbol "${name}"`);
      return;
    }
    case 'ParenthesisNode':
      check((node as unknown as { content: MathNode }).content, text);
      return;
    case 'OperatorNode': {
      const op = node as unknown as { op: string; args: MathNode[] };
      if (!OPERATORS.has(op.op)) refuse(text, `the operator "${op.op}" is not allowed`);
      for (const arg of op.args) check(arg, text);
      return;
    }
    case 'ConditionalNode': {
      const c = node as unknown as { condition: MathNode; trueExpr: MathNode; falseExpr: MathNode };
      check(c.condition, text);
      check(c.trueExpr, text);
      check(c.falseExpr, text);
      return;
    }
    case 'FunctionNode': {
      const f = node as unknown as { fn: MathNode; args: MathNode[] };
      const name = f.fn.type === 'SymbolNode' ? (f.fn as unknown as { name: string }).name : null;
      if (name === null) refuse(text, 'only named functions can be called');
      if (!FUNCTIONS.has(name)) refuse(text, `unknown function "${name}"`);
      for (const arg of f.args) check(arg, text);
      return;
    }
    default:
      refuse(text, `${describe(node)} is not allowed`);
  }
}

function describe(node: MathNode): string {
  switch (node.type) {
    case 'AssignmentNode':
      return 'an assignment (=)';
    case 'FunctionAssignmentNode':
      return 'a function definition';
    case 'BlockNode':
      return 'more than one expression (; or a line break)';
    case 'AccessorNode':
    case 'IndexNode':
      return 'property or index access';
    case 'ObjectNode':
      return 'an object';
    case 'ArrayNode':
      return 'a matrix';
    case 'RangeNode':
      return 'a range (:)';
    case 'RelationalNode':
      return 'a chained comparison';
    default:
      return `"${node.type}"`;
  }
}

/** Expressions and weights that passed the corner check (an expression's check depends on nothing else). */
const probed = new Set<string>();
const MAX_PROBED = 100;

/** Values at every corner of the components' ranges: an expression must give a finite number on all of them. */
function probeValues(weights: Readonly<Record<ScoreWeight, number>>): ScoreValues[] {
  const corners: ScoreValues[] = [];
  const levels = [-1, 0, 1];
  const comps = SCORE_COMPONENTS.filter((c) => c !== 'vix');
  const n = comps.length;
  for (let k = 0; k < 3 ** n; k++) {
    const v: Record<string, number> = { ...weights, vix: [0.85, 0.9, 1, 1.05][k % 4] };
    let r = k;
    for (const c of comps) {
      v[c] = levels[r % 3];
      r = Math.floor(r / 3);
    }
    corners.push(v as ScoreValues);
  }
  return corners;
}

/**
 * Parses, checks and compiles `text` once. An empty text is today's formula. Throws InvalidInputError naming the
 * unknown symbol or construct, or when the expression does not give a finite number for components in [−1, 1].
 * `weights` (the node's weight settings) are used for that check only; evaluate() reads them from its values.
 */
export function compileScoreFormula(text: string | undefined | null, weights?: Readonly<Record<ScoreWeight, number>>): ScoreFormula {
  const source = (text ?? '').trim() || DEFAULT_SCORE_EXPRESSION;
  if (source === DEFAULT_SCORE_EXPRESSION) {
    // Today's formula, known to parse and (weighted sums of finite settings) to stay finite: the engine keeps its
    // native arithmetic for it, so building DEFAULT_SETTINGS at load costs nothing and mathjs loads only if evaluate()
    // is ever called.
    let compiled: ScoreFormula | undefined;
    return { text: source, isDefault: true, evaluate: (values) => (compiled ??= compileExpression(source)).evaluate(values) };
  }
  return compileExpression(source, weights);
}

function compileExpression(source: string, weights?: Readonly<Record<ScoreWeight, number>>): ScoreFormula {
  if (source.length > 2000) refuse(source.slice(0, 40) + '…', 'it is longer than 2000 characters');
  const { parse, defaultTree } = scoreParser();
  let tree: MathNode;
  try {
    tree = parse(source);
  } catch (err) {
    return refuse(source, `it does not parse (${err instanceof Error ? err.message : String(err)})`);
  }
  check(tree, source);
  const compiled = tree.compile();
  const scope = new Map<string, number>();
  const evaluate = (values: ScoreValues): number => {
    for (const name of SCORE_SYMBOLS) scope.set(name, values[name]);
    const result: unknown = compiled.evaluate(scope);
    const value = typeof result === 'boolean' ? Number(result) : result;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      const shown = SCORE_COMPONENTS.map((c) => `${c}=${values[c]}`).join(', ');
      throw new InvalidInputError(
        `Battle Navale score expression ${JSON.stringify(source)} gave ${String(result)} (not a finite number) for ${shown}; fix the expression.`,
      );
    }
    return value;
  };
  const formula: ScoreFormula = { text: source, isDefault: tree.equals(defaultTree), evaluate };
  if (weights) {
    // 3^7 corners through mathjs take ~100 ms: done once per expression and weights, not at every redeploy.
    const key = JSON.stringify([source, weights]);
    if (probed.has(key)) return formula;
    for (const values of probeValues(weights)) {
      try {
        evaluate(values);
      } catch {
        const shown = SCORE_COMPONENTS.map((c) => `${c}=${values[c]}`).join(', ');
        refuse(source, `it does not give a finite number for ${shown}`);
      }
    }
    if (probed.size >= MAX_PROBED) probed.clear();
    probed.add(key);
  }
  return formula;
}
