/**
 * Risk questionnaire and scoring (CHG-04, CMO risk scoring). Pure: the caller supplies the
 * CIs from the catalog and the history of similar changes. The result shows how it was
 * computed, factor by factor, so nobody has to trust a bare number.
 */
import { z } from 'zod';
import type { CiCriticality } from '../../config/config-schema';
import type { RiskLevel } from '../../config/change-config-schema';

/** What the requester answers. The rest (criticality, dependencies, history) comes from data. */
export const riskAnswersSchema = z.strictObject({
  complexity: z.enum(['low', 'medium', 'high']).describe('how many steps and teams, how unfamiliar the work is'),
  rollback: z.enum(['easy', 'difficult', 'impossible']).describe('how feasible the backout plan is'),
  testedInNonProduction: z.boolean().describe('rehearsed in a non-production environment'),
});
export type RiskAnswers = z.infer<typeof riskAnswersSchema>;

export interface RiskContext {
  cis: { id: string; criticality: CiCriticality }[];
  /** CIs outside the change that depend on an affected CI. */
  dependentCount: number;
  /** Earlier completed changes on the same CIs. */
  history: { completed: number; failed: number };
}

export interface RiskFactor {
  factor: string;
  value: string;
  points: number;
}

export interface RiskAssessment {
  score: number;
  level: RiskLevel;
  factors: RiskFactor[];
}

const CRITICALITY_POINTS: Record<CiCriticality, number> = { low: 0, medium: 1, high: 2, critical: 3 };
const COMPLEXITY_POINTS = { low: 0, medium: 1, high: 2 } as const;
const ROLLBACK_POINTS = { easy: 0, difficult: 2, impossible: 3 } as const;
/** Scores up to LOW_MAX are low risk, up to MEDIUM_MAX medium, above that high (maximum 16). */
const LOW_MAX = 4;
const MEDIUM_MAX = 8;

const bucket = (count: number, small: number) => (count === 0 ? 0 : count <= small ? 1 : 2);

export function assessRisk(answers: RiskAnswers, context: RiskContext): RiskAssessment {
  const criticalities = context.cis.map((ci) => ci.criticality);
  const highest = criticalities.reduce<CiCriticality>((max, c) => (CRITICALITY_POINTS[c] > CRITICALITY_POINTS[max] ? c : max), 'low');
  const { completed, failed } = context.history;
  const failureRate = completed ? failed / completed : 0;
  const factors: RiskFactor[] = [
    { factor: 'CI criticality', value: context.cis.length ? highest : 'no CIs', points: CRITICALITY_POINTS[highest] },
    { factor: 'number of CIs', value: String(context.cis.length), points: context.cis.length <= 1 ? 0 : context.cis.length <= 3 ? 1 : 2 },
    { factor: 'dependent CIs', value: String(context.dependentCount), points: bucket(context.dependentCount, 3) },
    { factor: 'complexity', value: answers.complexity, points: COMPLEXITY_POINTS[answers.complexity] },
    { factor: 'rollback feasibility', value: answers.rollback, points: ROLLBACK_POINTS[answers.rollback] },
    { factor: 'tested in non-production', value: answers.testedInNonProduction ? 'yes' : 'no', points: answers.testedInNonProduction ? 0 : 2 },
    { factor: 'past outcomes of similar changes', value: `${failed} failed of ${completed}`, points: failed === 0 ? 0 : failureRate >= 0.25 ? 2 : 1 },
  ];
  const score = factors.reduce((sum, factor) => sum + factor.points, 0);
  return { score, level: score <= LOW_MAX ? 'low' : score <= MEDIUM_MAX ? 'medium' : 'high', factors };
}

/** The CIs outside `ciIds` that depend on any of them, directly or through other CIs. */
export function dependentsOf(ciIds: string[], catalog: { id: string; dependsOn: string[] }[]): string[] {
  const affected = new Set(ciIds);
  const found = new Set<string>();
  let frontier = new Set(ciIds);
  while (frontier.size) {
    const next = new Set<string>();
    for (const ci of catalog) {
      if (affected.has(ci.id) || found.has(ci.id)) continue;
      if (ci.dependsOn.some((dependency) => frontier.has(dependency))) {
        found.add(ci.id);
        next.add(ci.id);
      }
    }
    frontier = next;
  }
  return [...found];
}

/** CIs related to `ciIds` either way (what they depend on and what depends on them), transitively. */
export function relatedCis(ciIds: string[], catalog: { id: string; dependsOn: string[] }[]): Set<string> {
  const byId = new Map(catalog.map((ci) => [ci.id, ci]));
  const related = new Set(ciIds);
  const queue = [...ciIds];
  while (queue.length) {
    const id = queue.pop()!;
    for (const dependency of byId.get(id)?.dependsOn ?? []) {
      if (!related.has(dependency)) {
        related.add(dependency);
        queue.push(dependency);
      }
    }
  }
  for (const dependent of dependentsOf(ciIds, catalog)) related.add(dependent);
  return related;
}
