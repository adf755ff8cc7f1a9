import type { IncidentdConfig } from '../../config/config-schema';
import type { Principal } from '../auth/principal';

/**
 * Who sees which incidents. Staff see all incidents except security incidents, which
 * only admins and the security team see (INC-14). A client contact sees their own
 * client's non-security incidents, in the public projection only.
 */
export function isClientContact(principal: Principal): boolean {
  return principal.roles.every((role) => role === 'client_contact');
}

export function canSeeSecurityIncidents(principal: Principal, config: IncidentdConfig): boolean {
  if (principal.roles.includes('admin')) return true;
  const team = config.teams.find((candidate) => candidate.id === config.incidents.securityTeam);
  return team?.members.some((member) => member.toLowerCase() === principal.email.toLowerCase()) ?? false;
}

export function canSeeIncident(principal: Principal, config: IncidentdConfig, incident: { clientId?: string | null; security: boolean }): boolean {
  if (isClientContact(principal)) return incident.clientId != null && incident.clientId === principal.clientId && !incident.security;
  return !incident.security || canSeeSecurityIncidents(principal, config);
}

/** The same rule as a query filter, for lists. */
export function visibilityFilter(principal: Principal, config: IncidentdConfig): Record<string, unknown> {
  if (isClientContact(principal)) return { clientId: principal.clientId ?? '__none__', security: false };
  return canSeeSecurityIncidents(principal, config) ? {} : { security: false };
}
