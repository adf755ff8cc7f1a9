/**
 * Status page settings of a client (`clients[].statusPage`), beyond whether the page is
 * public: how open incidents turn into component statuses, and how uptime is counted.
 * Every key has a default, so `statusPage: { public: true }` is a complete page.
 */
import { z } from 'zod';

/** Component statuses, with the same names as Atlassian Statuspage's API v2. */
export const COMPONENT_STATUSES = ['operational', 'degraded_performance', 'partial_outage', 'major_outage', 'under_maintenance'] as const;
export type ComponentStatus = (typeof COMPONENT_STATUSES)[number];

/** What an open (not yet mitigated) incident of each severity does to the components it affects. */
const componentStatusBySeveritySchema = z
  .strictObject({
    /** Sev1: default major_outage. */
    sev1: z.enum(COMPONENT_STATUSES).default('major_outage'),
    /** Sev2: default partial_outage. */
    sev2: z.enum(COMPONENT_STATUSES).default('partial_outage'),
    /** Sev3: default degraded_performance. */
    sev3: z.enum(COMPONENT_STATUSES).default('degraded_performance'),
    /** Sev4: default operational (not visible on the page). */
    sev4: z.enum(COMPONENT_STATUSES).default('operational'),
  })
  .prefault({});

/** The 90-day uptime bars. */
const uptimeSchema = z
  .strictObject({
    /** Leave time under maintenance out of the uptime percentage (it is planned, announced downtime). */
    excludeMaintenance: z.boolean().default(true),
    /** Share of partial-outage time counted as downtime (major outage counts fully, degraded performance not at all). */
    partialOutageWeight: z.number().min(0).max(1).default(0.3),
  })
  .prefault({});

/** Keys added to `clients[].statusPage`. */
export const statusPageOptions = {
  /** Component status per severity of the open incidents affecting it. */
  componentStatusBySeverity: componentStatusBySeveritySchema,
  /** How uptime bars and percentages are counted. */
  uptime: uptimeSchema,
  /** Offer e-mail subscriptions (double opt-in) on the page. */
  subscriptions: z.boolean().default(true),
};
