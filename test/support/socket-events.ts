import type { Socket } from 'socket.io-client';

/** Resolves once the socket is connected. */
export function connected(socket: Socket): Promise<void> {
  return socket.connected ? Promise.resolve() : new Promise((resolve) => socket.once('connect', () => resolve()));
}

/** Resolves with the reason the server refused the connection; rejects if it connects. */
export function connectError(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('connect_error', (error) => resolve(error.message));
    socket.once('connect', () => reject(new Error('connected, but should have been refused')));
  });
}

/** The next `event` whose payload `matches`. */
export function nextEvent<T>(socket: Socket, event: string, matches: (payload: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const handler = (payload: T) => {
      if (!matches(payload)) return;
      socket.off(event, handler);
      resolve(payload);
    };
    socket.on(event, handler);
  });
}
