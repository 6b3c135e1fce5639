import { MemoryDirectory } from '../fakes/fake-parts.ts';
import { describeDirectoryContract } from './directory.contract.ts';

// The unit tests of core and the API run on MemoryDirectory: it must keep the same contract.
describeDirectoryContract('MemoryDirectory', () => new MemoryDirectory());
