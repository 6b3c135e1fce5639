/**
 * An AWS SDK client built on its first `send`, from a module loaded then: a Lambda's
 * cold start pays only for the clients its first requests use (the portal's sign-in
 * page never loads ECS, ELB or EFS). The Lambdas ship as split ESM bundles
 * (stacks/lambda.ts), so each `import()` of a module in ./sdk is its own chunk, read and
 * compiled only when imported. Adapters use nothing of a client but `send`, in its
 * promise form.
 *
 * A failed load is not kept: the next send tries again.
 */
export function lazyClient<C extends { send: (...args: never[]) => unknown }>(
  load: () => Promise<C>,
): Pick<C, 'send'> {
  let client: Promise<C> | undefined;
  const send = async (...args: unknown[]): Promise<unknown> => {
    client ??= load().catch((error: unknown) => {
      client = undefined;
      throw error;
    });
    const loaded = await client;
    return Reflect.apply(loaded.send, loaded, args);
  };
  return { send } as unknown as Pick<C, 'send'>;
}
