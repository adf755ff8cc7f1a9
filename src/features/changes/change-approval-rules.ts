/**
 * Which approvals a change needs and who may give them (CHG-06, CHG-07, CHG-08, CHG-11).
 * Pure: config and change in, decisions out.
 */
import type { ApprovalRuleConfig, ApproverConfig, ChangeType, RiskLevel } from '../../config/change-config-schema';
import type { ClientConfig, ConfigurationItemConfig, IncidentdConfig } from '../../config/config-schema';

/** change_manager | cab | team:<id> | client:<id> | requester_manager:<e-mail> | ecab | catalog */
export type ApproverGroup = string;

export interface RequiredApproval {
  group: ApproverGroup;
  /** Why: the rules or policies that asked for it. */
  reason: string;
}

export interface ApprovalSubject {
  type: ChangeType;
  riskLevel: RiskLevel | null;
  standardChangeId?: string | null;
  cis: Pick<ConfigurationItemConfig, 'id' | 'type' | 'tags'>[];
  clients: Pick<ClientConfig, 'id' | 'name' | 'changePolicy'>[];
  /** The lead of the requester's team, if the teams name one (see requesterManager). */
  requesterManager: string | null;
}

/** The lead of a team the requester belongs to (teams[].lead), not the requester themself. */
export function requesterManager(config: Pick<IncidentdConfig, 'teams'>, requesterEmail: string): string | null {
  const email = requesterEmail.toLowerCase();
  const team = config.teams.find((candidate) => candidate.lead && candidate.lead.toLowerCase() !== email && candidate.members.some((member) => member.toLowerCase() === email));
  return team?.lead?.toLowerCase() ?? null;
}

/** `regulated:*` matches `regulated:sox`; anything else must be equal. */
export function tagMatches(pattern: string, tag: string): boolean {
  return pattern.endsWith('*') ? tag.startsWith(pattern.slice(0, -1)) : pattern === tag;
}

function ruleApplies(rule: ApprovalRuleConfig, subject: ApprovalSubject): boolean {
  const when = rule.when;
  if (when.types && !when.types.includes(subject.type)) return false;
  if (when.risk && !(subject.riskLevel && when.risk.includes(subject.riskLevel))) return false;
  if (when.ciTags && !subject.cis.some((ci) => ci.tags.some((tag) => when.ciTags!.some((pattern) => tagMatches(pattern, tag))))) return false;
  if (when.ciTypes && !subject.cis.some((ci) => when.ciTypes!.includes(ci.type))) return false;
  if (when.clients && !subject.clients.some((client) => when.clients!.includes(client.id))) return false;
  return true;
}

function groupsOf(approver: ApproverConfig, subject: ApprovalSubject): ApproverGroup[] {
  if (approver === 'client') return subject.clients.map((client) => `client:${client.id}`);
  if (typeof approver === 'object') return [`team:${approver.team}`];
  // Without a known manager the change manager stands in (the rule is never silently dropped).
  if (approver === 'requester_manager') return [subject.requesterManager ? `requester_manager:${subject.requesterManager}` : 'change_manager'];
  return [approver];
}

/**
 * Emergency changes go to the emergency CAB only (CHG-08); a standard change from the
 * catalog is pre-approved (CHG-10); a normal change needs what the rules say, plus the
 * client's approver where its change policy demands it (always, or for high risk).
 */
export function requiredApprovals(subject: ApprovalSubject, rules: ApprovalRuleConfig[]): RequiredApproval[] {
  if (subject.type === 'emergency') return [{ group: 'ecab', reason: 'emergency change: decided by the emergency CAB' }];
  if (subject.type === 'standard') return [{ group: 'catalog', reason: `pre-approved standard change "${subject.standardChangeId}"` }];
  const reasons = new Map<ApproverGroup, string[]>();
  const add = (group: ApproverGroup, reason: string) => reasons.set(group, [...(reasons.get(group) ?? []), reason]);
  for (const rule of rules) {
    if (!ruleApplies(rule, subject)) continue;
    for (const approver of rule.require) for (const group of groupsOf(approver, subject)) add(group, `rule "${rule.name}"`);
  }
  for (const client of subject.clients) {
    const mode = client.changePolicy.clientApproval;
    if (mode === 'always') add(`client:${client.id}`, `${client.name} approves every change`);
    if (mode === 'high_risk' && subject.riskLevel === 'high') add(`client:${client.id}`, `${client.name} approves high-risk changes`);
  }
  return [...reasons].map(([group, why]) => ({ group, reason: why.join('; ') }));
}

export interface Decider {
  email: string;
  roles: readonly string[];
  clientId: string | null;
}

/** The approver contacts of a client (contacts with the `approver` role). */
export function clientApprovers(config: IncidentdConfig, clientId: string): string[] {
  const client = config.clients.find((candidate) => candidate.id === clientId);
  return (client?.contacts ?? []).filter((contact) => contact.roles.includes('approver')).map((contact) => contact.email.toLowerCase());
}

/** Whether this person may decide for this approver group (ACC-01: only authorized roles approve). */
export function canDecideFor(group: ApproverGroup, who: Decider, config: IncidentdConfig): boolean {
  const email = who.email.toLowerCase();
  const [kind, id] = group.split(':', 2) as [string, string | undefined];
  switch (kind) {
    case 'change_manager':
      return who.roles.includes('change_manager');
    case 'cab':
      return who.roles.includes('cab_member');
    case 'team':
      return who.roles.some((role) => role !== 'client_contact') && (config.teams.find((team) => team.id === id)?.members ?? []).some((member) => member.toLowerCase() === email);
    case 'client':
      return who.clientId === id && clientApprovers(config, id!).includes(email);
    case 'ecab':
      return config.cab.ecab.members.some((member) => member.toLowerCase() === email);
    case 'requester_manager':
      return who.roles.some((role) => role !== 'client_contact') && id === email;
    default:
      return false;
  }
}

/**
 * Segregation of duties (CHG-07): whoever asked for or carries out a change never approves
 * it, whatever roles they hold. Null when the person may decide.
 */
export function segregationProblem(change: { requesterEmail: string; implementers: string[] }, email: string): string | null {
  const who = email.toLowerCase();
  if (change.requesterEmail.toLowerCase() === who) return 'segregation of duties: the requester of a change cannot approve it';
  if (change.implementers.some((implementer) => implementer.toLowerCase() === who)) return 'segregation of duties: an implementer of a change cannot approve it';
  return null;
}

/** A human-readable name for an approver group, for e-mails and pages. */
export function describeGroup(group: ApproverGroup): string {
  const [kind, id] = group.split(':', 2);
  if (kind === 'team') return `${id} specialists`;
  if (kind === 'client') return `client approver (${id})`;
  if (kind === 'requester_manager') return `requester's manager (${id})`;
  return { change_manager: 'change manager', cab: 'change advisory board', ecab: 'emergency CAB', catalog: 'standard change catalog' }[kind!] ?? group;
}
