import type { Principal } from '../../features/auth/principal';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by the authentication middleware when the request carries valid credentials. */
      principal?: Principal;
    }
  }
}

export {};
