/**
 * Roles (ACC-01, INC-06). A user may hold several; `client_contact` is bound to one client
 * and sees only that client's records.
 */
export const ROLES = [
  'admin',
  'service_desk',
  'tier2',
  'tier3',
  'incident_manager',
  'account_manager',
  'change_manager',
  'cab_member',
  'implementer',
  'client_contact',
] as const;
export type Role = (typeof ROLES)[number];

/** Everyone who works for the MSP, as opposed to a client's contact. */
export const STAFF_ROLES: readonly Role[] = ROLES.filter((role) => role !== 'client_contact');

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
