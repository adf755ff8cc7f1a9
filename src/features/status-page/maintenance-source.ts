/**
 * Where planned maintenance comes from: change management implements it
 * (src/features/changes/change-maintenance.ts). The status page derives scheduled / in progress / completed from
 * the window and the clock, so a source only has to say what is planned.
 */
export interface PlannedMaintenance {
  /** Stable id, shown in URLs and the Statuspage JSON (e.g. the change number "CHG-204"). */
  id: string;
  /** Client-facing title. */
  title: string;
  /** Client-facing description of the work and its effect; may be empty. */
  description: string;
  /** Affected services (only the client's public ones are shown). */
  serviceIds: string[];
  start: Date;
  end: Date;
  createdAt: Date;
  updatedAt: Date;
}

export interface MaintenanceSource {
  /** The client's maintenance whose window overlaps [from, to). */
  scheduledFor(clientId: string, from: Date, to: Date): Promise<PlannedMaintenance[]>;
  /** Registers a listener called (with the client id) whenever planned maintenance changes. */
  onChanged(listener: (clientId: string) => void): void;
}
