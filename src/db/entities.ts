import { AuditEventSchema } from '../features/audit/audit-event-entity';
import { SessionSchema } from '../features/auth/session-entity';
import { LoginThrottleSchema } from '../features/auth/login-throttle-entity';
import { ApiTokenSchema, RoleGrantSchema, UserSchema } from '../features/users/user-entities';
import { AlertProcessorSchema, AlertSchema, WebhookDeliverySchema } from '../features/alert-intake/intake-entities';
import { IncidentEventSchema, IncidentSchema } from '../features/incidents/incident-entities';
import { IncidentCommunicationSchema, RestorationFeedbackSchema } from '../features/notifications/communication-entities';
import { PostIncidentReviewSchema, ReviewActionItemSchema } from '../features/reviews/review-entities';
import { IncidentRoleSchema, IncidentTaskSchema } from '../features/bridge/bridge-entities';
import { SuspectChangeSchema } from '../features/correlation/correlation-entities';
import { EscalationSchema } from '../features/escalation/escalation-entities';
import { NotificationSchema } from '../features/notifications/notification-entities';
import { OncallCalendarFeedSchema, OncallOverrideSchema } from '../features/oncall/oncall-entities';
import { StatusOverrideSchema, StatusSubscriberSchema } from '../features/status-page/status-page-entities';
import { SlaClockSchema } from '../features/sla/sla-entities';
import { JobRunSchema, TimerSchema } from '../features/timers/timer-entities';
import { InstanceSettingSchema } from './instance-setting-entity';
import { CabAgendaItemSchema, CabMeetingSchema, ChangeApprovalSchema, ChangeEventSchema, ChangeRequestSchema, ChangeValidationSchema } from '../features/changes/change-entities';

/** Every entity the ORM knows. A feature adds its entities here and a migration for them. */
export const entities = [UserSchema, RoleGrantSchema, ApiTokenSchema, SessionSchema, AuditEventSchema, InstanceSettingSchema,
  IncidentSchema, IncidentEventSchema, WebhookDeliverySchema, AlertSchema, AlertProcessorSchema,
  TimerSchema, JobRunSchema, SlaClockSchema, EscalationSchema, NotificationSchema, OncallOverrideSchema, OncallCalendarFeedSchema,
  ChangeRequestSchema, ChangeApprovalSchema, ChangeEventSchema, CabMeetingSchema, CabAgendaItemSchema, ChangeValidationSchema,
  IncidentCommunicationSchema, RestorationFeedbackSchema, PostIncidentReviewSchema, ReviewActionItemSchema,
  IncidentRoleSchema, IncidentTaskSchema, StatusOverrideSchema, StatusSubscriberSchema, SuspectChangeSchema,
  LoginThrottleSchema];
