/**
 * Standard change eligibility (CHG-02, CHG-10): an RFC raised from the catalog is
 * pre-approved only when it stays inside its template; anything else becomes a normal
 * change. Pure.
 */
import { DateTime } from 'luxon';
import type { RiskLevel, StandardChangeConfig } from '../../config/change-config-schema';
import { parseDuration, type ClientConfig, type ConfigurationItemConfig } from '../../config/config-schema';
import { tagMatches } from './change-approval-rules';
import { insideMaintenanceWindows, type Window } from './change-scheduling';

const RISK_ORDER: Record<RiskLevel, number> = { low: 0, medium: 1, high: 2 };

export function catalogEntryOverdue(template: StandardChangeConfig, now: Date): boolean {
  if (!template.lastReviewed) return true;
  const due = DateTime.fromISO(template.lastReviewed, { zone: 'utc' }).toMillis() + (parseDuration(template.reviewEvery) ?? 0);
  return now.getTime() > due;
}

/** Why this RFC is not a standard change of this template; empty when it is. */
export function eligibilityProblems(
  template: StandardChangeConfig,
  change: { implementationPlan: string; window: Window | null; riskLevel: RiskLevel | null },
  cis: Pick<ConfigurationItemConfig, 'id' | 'type' | 'tags'>[],
  clients: Pick<ClientConfig, 'id' | 'timezone' | 'maintenanceWindows'>[],
  now: Date,
): string[] {
  const problems: string[] = [];
  const { eligible } = template;
  const anyCriteria = eligible.cis.length + eligible.ciTypes.length + eligible.ciTags.length > 0;
  for (const ci of cis) {
    const fits = eligible.cis.includes(ci.id) || eligible.ciTypes.includes(ci.type) || ci.tags.some((tag) => eligible.ciTags.some((pattern) => tagMatches(pattern, tag)));
    if (anyCriteria && !fits) problems.push(`${ci.id} is not eligible for "${template.id}"`);
  }
  if (change.implementationPlan.trim() !== template.procedure.trim()) problems.push('the implementation plan differs from the documented procedure');
  if (!change.window) problems.push('no window requested');
  else {
    const maxMs = parseDuration(template.maxDuration) ?? Infinity;
    if (change.window.end.getTime() - change.window.start.getTime() > maxMs) problems.push(`the window is longer than the template's ${template.maxDuration}`);
    if (template.insideMaintenanceWindow) {
      for (const client of clients) {
        if (client.maintenanceWindows.length && !insideMaintenanceWindows(client.maintenanceWindows, client.timezone, change.window)) problems.push(`the window is outside ${client.id}'s maintenance windows`);
      }
    }
  }
  if (!change.riskLevel) problems.push('no risk assessment to check against the template');
  else if (RISK_ORDER[change.riskLevel] > RISK_ORDER[template.maxRisk]) problems.push(`risk ${change.riskLevel} is above the template's ${template.maxRisk}`);
  if (catalogEntryOverdue(template, now)) problems.push(`catalog entry "${template.id}" is overdue for its periodic review`);
  return problems;
}
