import type { Role } from './roles';

/** Who is making a request, as established once by the authentication middleware. */
export interface Principal {
  userId: number;
  name: string;
  email: string;
  roles: Role[];
  /** Set for client_contact users: the only client whose records they may see. */
  clientId: string | null;
  via: 'token' | 'session';
  /** Hash of the session id, for session-bound CSRF tokens and logout. */
  sessionIdHash?: string;
  /** Signed in with a one-time password: nothing but choosing a new password is allowed. */
  passwordChangeRequired?: boolean;
}

export function hasAnyRole(principal: Principal, allowed: readonly Role[]): boolean {
  return principal.roles.some((role) => allowed.includes(role));
}

/** Staff see every client; a client contact sees only their own. */
export function canSeeClient(principal: Principal, clientId: string): boolean {
  if (principal.roles.some((role) => role !== 'client_contact')) return true;
  return principal.clientId === clientId;
}
