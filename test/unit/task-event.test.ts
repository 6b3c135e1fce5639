import { describe, expect, it } from 'vitest';
import { taskStatusFromDetail } from '../../functions/core/task-event.ts';

const eni = (ip: string) => [
  { type: 'ElasticNetworkInterface', details: [{ name: 'privateIPv4Address', value: ip }] },
];

describe('taskStatusFromDetail', () => {
  it.each(['PROVISIONING', 'PENDING', 'ACTIVATING'])('maps %s to pending', (lastStatus) => {
    expect(taskStatusFromDetail({ taskArn: 't', lastStatus }).state).toBe('pending');
  });

  it('maps RUNNING with a private IP to running on port 8888', () => {
    expect(
      taskStatusFromDetail({ taskArn: 't', lastStatus: 'RUNNING', attachments: eni('10.0.1.5') }),
    ).toEqual({
      state: 'running',
      target: { host: '10.0.1.5', port: 8888 },
    });
  });

  it('uses the host port a local process reports', () => {
    const status = taskStatusFromDetail({
      taskArn: 't',
      lastStatus: 'RUNNING',
      attachments: eni('127.0.0.1'),
      containers: [{ networkBindings: [{ hostPort: 40123 }] }],
    });
    expect(status).toEqual({ state: 'running', target: { host: '127.0.0.1', port: 40123 } });
  });

  it('keeps RUNNING without an address pending (the ENI attachment can lag)', () => {
    expect(taskStatusFromDetail({ taskArn: 't', lastStatus: 'RUNNING' }).state).toBe('pending');
  });

  it('explains a Spot interruption in words the user understands', () => {
    const status = taskStatusFromDetail({
      taskArn: 't',
      lastStatus: 'STOPPED',
      stopCode: 'SpotInterruption',
    });
    expect(status).toMatchObject({ state: 'exited', code: 'spot-interruption' });
    expect(status.state === 'exited' && status.reason).toMatch(/Spot capacity/);
  });

  it('reports a crash with its exit code', () => {
    const status = taskStatusFromDetail({
      taskArn: 't',
      lastStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      containers: [{ exitCode: 137 }],
    });
    expect(status).toMatchObject({ state: 'exited', code: 'crashed', exitCode: 137 });
    expect(status.state === 'exited' && status.reason).toContain('exit code 137');
  });

  it('reports a task that failed to start', () => {
    const status = taskStatusFromDetail({
      taskArn: 't',
      lastStatus: 'STOPPED',
      stopCode: 'TaskFailedToStart',
      stoppedReason: 'CannotPullContainerError: pull access denied',
    });
    expect(status).toMatchObject({ state: 'exited', code: 'start-failed' });
    expect(status.state === 'exited' && status.reason).toContain('CannotPullContainerError');
  });
});

describe('a clean exit', () => {
  it('is a normal stop, not a crash (Jupyter shut itself down)', () => {
    const status = taskStatusFromDetail({
      taskArn: 't',
      lastStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      containers: [{ exitCode: 0 }],
    });
    expect(status).toMatchObject({ state: 'exited', code: 'idle', exitCode: 0 });
  });
});
