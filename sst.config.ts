import type { SSTConfig } from 'sst';
import { hublessStacks } from './stacks/index.ts';

export default {
  config(input) {
    return { name: 'hubless', region: input.region ?? 'us-east-1' };
  },
  stacks(app) {
    hublessStacks(app);
  },
} satisfies SSTConfig;
