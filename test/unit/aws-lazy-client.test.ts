import { describe, expect, it } from 'vitest';
import { lazyClient } from '../../functions/adapters/aws/lazy-client.ts';

/** An SDK client as the adapters see it: `send` returns the command's output. */
class EchoClient {
  readonly sent: unknown[] = [];
  async send(command: { input: string }): Promise<string> {
    this.sent.push(command);
    return `out:${command.input}`;
  }
}

describe('lazyClient (adapters/aws/lazy-client.ts)', () => {
  it('builds the client on the first send, once, and sends every command through it', async () => {
    let loads = 0;
    const built = new EchoClient();
    const client = lazyClient<EchoClient>(async () => {
      loads++;
      return built;
    });
    expect(loads).toBe(0);
    const answers = await Promise.all([client.send({ input: 'a' }), client.send({ input: 'b' })]);
    await client.send({ input: 'c' });
    expect(answers).toEqual(['out:a', 'out:b']);
    expect(loads).toBe(1);
    expect(built.sent).toEqual([{ input: 'a' }, { input: 'b' }, { input: 'c' }]);
  });

  it('tries the load again on the next send after a failed one', async () => {
    let loads = 0;
    const client = lazyClient<EchoClient>(async () => {
      loads++;
      if (loads === 1) throw new Error('chunk not found');
      return new EchoClient();
    });
    await expect(client.send({ input: 'a' })).rejects.toThrow('chunk not found');
    await expect(client.send({ input: 'b' })).resolves.toBe('out:b');
    expect(loads).toBe(2);
  });
});
