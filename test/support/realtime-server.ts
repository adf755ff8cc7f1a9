import { createServer, type Server } from 'node:http';
import type { TestApp } from './test-app';

/** The app on a real HTTP server on a free port, with its socket.io namespaces attached. */
export async function listenWithRealtime(t: TestApp, options: { reauthenticateMs?: number } = {}): Promise<{ server: Server; base: string; close(): Promise<void> }> {
  const server = createServer(t.app.handleRequest);
  t.app.attachRealtime(server, options);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    base: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
