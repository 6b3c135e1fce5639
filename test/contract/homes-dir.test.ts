import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DirHomes } from '../../functions/adapters/local/dir-homes.ts';
import { describeHomesContract } from './homes.contract.ts';

describeHomesContract(
  'DirHomes (local mode)',
  async () =>
    new DirHomes({ root: path.join(await mkdtemp(path.join(tmpdir(), 'hubless-homes-')), 'homes') }),
);
