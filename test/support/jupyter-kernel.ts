import { randomUUID } from 'node:crypto';

/** A message on a kernel's shell channel (Jupyter messaging protocol v5.3), as JSON text. */
export function shellMessage(
  type: 'execute_request' | 'kernel_info_request',
  msgId: string,
  content: object = {},
  session: string = randomUUID(),
): string {
  return JSON.stringify({
    header: {
      msg_id: msgId,
      username: 'hubless-test',
      session,
      msg_type: type,
      version: '5.3',
      date: new Date().toISOString(),
    },
    parent_header: {},
    metadata: {},
    content,
    channel: 'shell',
    buffers: [],
  });
}

export function executeContent(code: string): object {
  return {
    code,
    silent: false,
    store_history: true,
    user_expressions: {},
    allow_stdin: false,
    stop_on_error: true,
  };
}

/**
 * Runs code in a Jupyter kernel over its WebSocket channel (the Jupyter messaging
 * protocol, v5), as JupyterLab does, and returns the text/plain result.
 */
export async function executeInKernel(
  channelsUrl: string,
  code: string,
  headers: Record<string, string>,
  timeoutMs = 30_000,
): Promise<{ result?: string; status: string }> {
  // Node's WebSocket (undici) accepts extra headers, which carry the session cookie.
  const socket = new WebSocket(channelsUrl, { headers } as unknown as string[]);
  const msgId = randomUUID();
  return new Promise((resolve, reject) => {
    let result: string | undefined;
    let status: string | undefined;
    let idle = false;
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`The kernel did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.addEventListener('error', (event) => {
      clearTimeout(timer);
      reject(new Error(`WebSocket error: ${(event as ErrorEvent).message ?? 'unknown'}`));
    });
    socket.addEventListener('open', () => {
      socket.send(shellMessage('execute_request', msgId, executeContent(code)));
    });
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as {
        msg_type: string;
        parent_header?: { msg_id?: string };
        content: { data?: Record<string, string>; status?: string; execution_state?: string };
      };
      if (message.parent_header?.msg_id !== msgId) return;
      if (message.msg_type === 'execute_result') result = message.content.data?.['text/plain'];
      if (message.msg_type === 'execute_reply') status = message.content.status ?? 'unknown';
      // The reply (shell) and the result (iopub) travel on different channels and may arrive
      // in either order; iopub's "idle" comes after every output of the request.
      if (message.msg_type === 'status' && message.content.execution_state === 'idle') idle = true;
      if (status !== undefined && idle) {
        clearTimeout(timer);
        socket.close();
        resolve({ result, status });
      }
    });
  });
}
