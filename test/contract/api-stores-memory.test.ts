import {
  MemoryCapacityStore,
  MemoryEventLog,
  MemoryLaunchLinkStore,
  MemoryUsageStore,
} from '../fakes/api-stores.ts';
import {
  describeCapacityStoreContract,
  describeEventLogContract,
  describeLaunchLinkStoreContract,
  describeUsageStoreContract,
} from './api-stores.contract.ts';

describeLaunchLinkStoreContract('MemoryLaunchLinkStore', async () => new MemoryLaunchLinkStore());
describeUsageStoreContract('MemoryUsageStore', async () => new MemoryUsageStore());
describeEventLogContract('MemoryEventLog', async () => new MemoryEventLog());
describeCapacityStoreContract('MemoryCapacityStore', async () => new MemoryCapacityStore());
