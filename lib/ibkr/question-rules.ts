// IBKR's order confirmation questions (ibkr-web-api.md §2, "Reply flow") and the rule list that answers them.
// Nothing is accepted blindly: a question is accepted only if its message id is on the list the trader ticked (or
// "accept all" is ticked); any other question — including one IBKR invents tomorrow — is refused, so the order is
// dropped and reported rejected with IBKR's own text.
import { InvalidInputError } from '../errors';
import type { AnswerRule } from './types';

export interface KnownQuestion {
  id: string;
  /** What IBKR is asking, in a trader's words. */
  summary: string;
}

/** The message ids the fact sheet lists, with what each asks. */
export const KNOWN_QUESTIONS: readonly KnownQuestion[] = [
  { id: 'o163', summary: 'limit price is too far (in %) from the market' },
  { id: 'o354', summary: 'no market data for the contract' },
  { id: 'o382', summary: 'price is not on the tick grid' },
  { id: 'o383', summary: 'order size exceeds the size limit' },
  { id: 'o403', summary: 'order will most likely fill immediately' },
  { id: 'o451', summary: 'order value exceeds the value limit' },
  { id: 'o10331', summary: 'you are submitting a stop order (risk disclosure)' },
  // Listed by the fact sheet without a meaning: IBKR's own text is shown when one is asked.
  ...['o2136', 'o2137', 'o2165', 'o10082', 'o10138', 'o10151', 'o10152', 'o10153', 'o10164', 'o10223', 'o10288', 'o10332', 'o10333', 'o10334', 'o10335', 'o10336', 'p6', 'p12'].map(
    (id) => ({ id, summary: 'see IBKR’s text when asked' }),
  ),
];

/**
 * The node's default: only the stop-order risk disclosure, which IBKR shows for every bracket's protective stop.
 * Questions about price, size, missing market data or immediate fills are refused until the trader ticks them.
 */
export const DEFAULT_ACCEPTED_QUESTIONS: readonly string[] = ['o10331'];

export interface QuestionRuleSettings {
  /** Message ids to accept ("o163", "o10331", ...). */
  accepted: readonly string[];
  /** Accept every question, known or not. The trader must tick it on purpose. */
  acceptAll: boolean;
}

/** One question IBKR asked and how the rule answered it. */
export interface AnsweredQuestion {
  id: string;
  text: string;
  accepted: boolean;
}

const MESSAGE_ID = /^[op]\d{1,6}$/;

/** "o163, o354 o10331" or ["o163"] → checked, lower-case, de-duplicated ids. */
export function parseQuestionIds(input: unknown): string[] {
  if (input === undefined || input === null || input === '') return [];
  const parts = Array.isArray(input) ? input : typeof input === 'string' ? input.split(/[\s,;]+/) : null;
  if (!parts) throw new InvalidInputError(`accepted questions must be a list of IBKR message ids such as "o163, o10331"; got ${typeof input}.`);
  const ids: string[] = [];
  for (const part of parts) {
    const id = String(part).trim().toLowerCase();
    if (id === '') continue;
    if (!MESSAGE_ID.test(id)) throw new InvalidInputError(`"${String(part)}" is not an IBKR question id: ids look like o163, o10331 or p6.`);
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

export function describeQuestion(id: string): string {
  return KNOWN_QUESTIONS.find((q) => q.id === id)?.summary ?? 'a question this node does not know';
}

/**
 * The answer rule the client calls for each question, recording every question and answer into `log` so the
 * node can report what IBKR asked. An empty or unknown id is refused unless "accept all" is on.
 */
export function answerRule(settings: QuestionRuleSettings, log: AnsweredQuestion[] = []): AnswerRule {
  const accepted = new Set(settings.accepted.map((id) => id.toLowerCase()));
  return (messageId: string, text: string): boolean => {
    const id = messageId.trim().toLowerCase();
    const ok = settings.acceptAll || (id !== '' && accepted.has(id));
    log.push({ id: id || '(no id)', text, accepted: ok });
    return ok;
  };
}
