import '../support/aws-calls/checked.ts';
import { CreateAccessPointCommand, DescribeAccessPointsCommand, EFSClient } from '@aws-sdk/client-efs';
import { mockClient } from 'aws-sdk-client-mock';
import { EfsHomes } from '../../functions/adapters/aws/efs-homes.ts';
import { SimEfs } from '../aws-sim/directory.ts';
import { describeHomesContract } from './homes.contract.ts';

// EfsHomes over the simulated account's EFS: access points that are `creating` for a
// moment, one per client token (a repeated token answers AccessPointAlreadyExists).
const FS = 'fs-0123456789abcdef0';
const efsMock = mockClient(EFSClient);

describeHomesContract('EfsHomes on a simulated EFS', async () => {
  const efs = new SimEfs(FS, 20);
  efsMock.reset();
  efsMock.on(CreateAccessPointCommand).callsFake((input) => efs.handle('CreateAccessPoint', input));
  efsMock.on(DescribeAccessPointsCommand).callsFake((input) => efs.handle('DescribeAccessPoints', input));
  return new EfsHomes({ efs: new EFSClient({ region: 'us-east-1' }), fileSystemId: FS, pollIntervalMs: 10 });
});
