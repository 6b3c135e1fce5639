import { FakeHomes } from '../fakes/fake-parts.ts';
import { describeHomesContract } from './homes.contract.ts';

// Core's unit tests run on FakeHomes: it keeps the Homes contract.
describeHomesContract('FakeHomes', async () => new FakeHomes());
