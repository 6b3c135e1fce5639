import { MemorySessionStore } from '../fakes/memory-session-store.ts';
import { describeSessionStoreContract } from './session-store.contract.ts';

describeSessionStoreContract('MemorySessionStore', () => new MemorySessionStore());
