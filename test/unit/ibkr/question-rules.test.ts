import { strict as assert } from 'assert';
import { DEFAULT_ACCEPTED_QUESTIONS, KNOWN_QUESTIONS, answerRule, describeQuestion, parseQuestionIds, type AnsweredQuestion } from '../../../lib/ibkr/question-rules';

describe('IBKR confirmation-question rules', () => {
  it('accepts only the message ids on the list and records every question with its answer', () => {
    const log: AnsweredQuestion[] = [];
    const rule = answerRule({ accepted: ['o163', 'o10331'], acceptAll: false }, log);
    assert.equal(rule('o163', 'price exceeds the percentage limit'), true);
    assert.equal(rule('O10331', 'stop order'), true);
    assert.equal(rule('o354', 'no market data'), false);
    assert.deepEqual(
      log.map((q) => [q.id, q.accepted]),
      [
        ['o163', true],
        ['o10331', true],
        ['o354', false],
      ],
    );
  });

  it('refuses a question it does not know, and one without an id, unless "accept all" is ticked', () => {
    const strict = answerRule({ accepted: KNOWN_QUESTIONS.map((q) => q.id), acceptAll: false });
    assert.equal(strict('o99999', 'a brand-new question'), false);
    assert.equal(strict('', 'no id at all'), false);
    const all = answerRule({ accepted: [], acceptAll: true });
    assert.equal(all('o99999', 'a brand-new question'), true);
  });

  it('accepts nothing about price, size, market data or immediate fills by default', () => {
    const rule = answerRule({ accepted: DEFAULT_ACCEPTED_QUESTIONS, acceptAll: false });
    for (const id of ['o163', 'o354', 'o382', 'o383', 'o403', 'o451']) assert.equal(rule(id, ''), false, id);
    assert.equal(rule('o10331', 'stop order disclosure'), true);
  });

  it('reads the editor’s list of ids and refuses what is not an id', () => {
    assert.deepEqual(parseQuestionIds(' o163, O354;o163  p6 '), ['o163', 'o354', 'p6']);
    assert.deepEqual(parseQuestionIds(''), []);
    assert.throws(() => parseQuestionIds('o163, yes'), /"yes" is not an IBKR question id/);
  });

  it('describes the questions the fact sheet explains, and says when it does not know one', () => {
    assert.match(describeQuestion('o354'), /no market data/);
    assert.match(describeQuestion('o12345'), /does not know/);
  });
});
