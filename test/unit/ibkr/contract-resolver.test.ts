import assert from 'node:assert/strict';
import { IbkrConnection } from '../../../lib/ibkr';
import { contractSpecOf, resolveContract, searchContracts, type ContractApi } from '../../../lib/ibkr/contract-resolver';
import { NotFoundError } from '../../../lib/ibkr/errors';
import { InvalidInputError } from '../../../lib/errors';
import { startIbkrSimulator, type IbkrSimulator } from '../../../lib/sim/ibkr';
import type { FutureContract } from '../../../lib/ibkr/types';

const DAY = 86_400_000;

function es(conid: number, expirationDate: string): FutureContract {
  return { symbol: 'ES', conid, underlyingConid: 11004968, expirationDate, lastTradingDate: expirationDate };
}

/** Unsorted, as IBKR serves /trsrv/futures. */
const LIST = [es(3, '20270917'), es(1, '20270319'), es(2, '20270618')];

const fakeApi = (list: FutureContract[] = LIST): ContractApi => ({
  futures: async (symbols) => Object.fromEntries(symbols.map((s) => [s, s === 'ES' ? list : []])),
  secdefSearch: async (symbol) =>
    symbol === 'SPX' ? [{ conid: 416904, symbol: 'SPX', companyName: 'S&P 500 Stock Index', description: 'CBOE', sections: [{ secType: 'IND', months: [], exchange: 'CBOE' }] }] : [],
  contractInfo: async (conid) => {
    if (conid !== 1) throw new NotFoundError('nothing');
    return { conid: 1, symbol: 'ES', secType: 'FUT', tradingClass: 'ES', localSymbol: 'ESH7', underlyingConid: null, multiplier: 50, maturityDate: '20270319', exchange: 'CME', currency: 'USD' };
  },
});

describe('contract resolver', () => {
  it('picks the nearest ES expiry as the front month, whatever the order IBKR lists them in', async () => {
    const c = await resolveContract(fakeApi(), { symbol: 'ES', secType: 'FUT' }, Date.UTC(2027, 0, 10, 15));
    assert.equal(c.conid, 1);
    assert.equal(c.expiry, '20270319');
    assert.match(c.description, /front month/);
  });

  it('rolls to the next quarter 8 calendar days before expiry, not 9', async () => {
    const nineDaysBefore = Date.UTC(2027, 2, 10, 15);
    const eightDaysBefore = nineDaysBefore + DAY;
    assert.equal((await resolveContract(fakeApi(), { symbol: 'ES' }, nineDaysBefore)).conid, 1);
    assert.equal((await resolveContract(fakeApi(), { symbol: 'ES' }, eightDaysBefore)).conid, 2);
  });

  it('finds an index through secdef search', async () => {
    const c = await resolveContract(fakeApi(), { symbol: 'SPX', secType: 'IND' }, Date.UTC(2027, 0, 10));
    assert.equal(c.conid, 416904);
  });

  it('says which symbol has no futures instead of guessing', async () => {
    await assert.rejects(resolveContract(fakeApi(), { symbol: 'ZZ' }, Date.UTC(2027, 0, 10)), (err: Error) => err instanceof NotFoundError && /"ZZ"/.test(err.message));
  });

  it('turns an unknown conid into a clear not-found error', async () => {
    await assert.rejects(resolveContract(fakeApi(), { conid: 99 }, 0), NotFoundError);
    assert.equal((await resolveContract(fakeApi(), { conid: 1 }, 0)).symbol, 'ES');
  });

  it('offers the front month first, then later expiries in order, in the contract search', async () => {
    const list = await searchContracts(fakeApi(), 'es', Date.UTC(2027, 2, 12));
    assert.deepEqual(list.map((c) => c.conid), [2, 3]); // March is 7 days from expiry: rolled
  });

  it('refuses malformed settings with the field and what to do', () => {
    assert.throws(() => contractSpecOf({ conid: 'abc' }), InvalidInputError);
    assert.throws(() => contractSpecOf({}), /set a symbol/);
    assert.throws(() => contractSpecOf({ symbol: 'ES', secType: 'XYZ' }), /Security type "XYZ"/);
    assert.deepEqual(contractSpecOf({ symbol: ' es ' }), { symbol: 'ES', secType: 'FUT' });
    assert.deepEqual(contractSpecOf({ conid: '495512557', symbol: '' }), { conid: 495512557 });
  });

  describe('against the simulator', () => {
    let sim: IbkrSimulator;
    let connection: IbkrConnection;
    before(async () => {
      sim = await startIbkrSimulator({ seed: 7 });
      connection = new IbkrConnection({ mode: 'simulator', baseUrl: sim.baseUrl, simulatorCertificatePem: sim.certificatePem });
      await connection.start();
    });
    after(async () => {
      await connection.close();
      await sim.close();
    });

    it('resolves ES to the simulator front month, a contract it quotes', async () => {
      const c = await resolveContract(connection.client, { symbol: 'ES' }, sim.market.now());
      const listed = sim.market.esContracts().map((x) => x.conid);
      assert.ok(listed.includes(c.conid));
      const [row] = await connection.client.snapshot([c.conid], ['last']);
      assert.ok((row?.values.last ?? 0) > 1000);
    });
  });
});
