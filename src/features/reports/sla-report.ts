import type { EntityManager } from '@mikro-orm/postgresql';
import { formatMs } from '../sla/sla-service';

export interface SlaReportQuery {
  client?: string;
  from: Date;
  to: Date;
}

interface Row {
  client_id: string;
  severity: number;
  kind: string;
  incidents: string;
  met: string;
  breached: string;
  running: string;
  avg_ms: string | null;
  p90_ms: string | null;
}

/**
 * SLA performance (INC-13 compliance evidence, INC-07): per client, severity and clock
 * (response, resolution) for incidents logged from `from` to `to` (both included): how many met or breached the
 * target, the compliance rate, and the mean and 90th percentile of the counted time
 * (business time where the contract says so). Security incidents count too: the report
 * gives numbers, not details. Clocks still running are listed apart and left out of the rate.
 */
export async function slaReport(em: EntityManager, query: SlaReportQuery) {
  const rows = await em.getConnection().execute<Row[]>(
    `select i.client_id, i.severity, c.kind,
            count(*) as incidents,
            count(*) filter (where c.outcome = 'met') as met,
            count(*) filter (where c.outcome = 'breached') as breached,
            count(*) filter (where c.outcome is null) as running,
            avg(c.consumed_ms) filter (where c.stopped_at is not null) as avg_ms,
            percentile_cont(0.9) within group (order by c.consumed_ms) filter (where c.stopped_at is not null) as p90_ms
       from sla_clock c join incident i on i.id = c.incident_id
      where i.reported_at >= ? and i.reported_at <= ? and i.state <> 'cancelled' ${query.client ? 'and i.client_id = ?' : ''}
      group by i.client_id, i.severity, c.kind
      order by i.client_id, i.severity, c.kind`,
    [query.from, query.to, ...(query.client ? [query.client] : [])],
  );
  const lines = rows.map((row) => {
    const met = Number(row.met);
    const breached = Number(row.breached);
    const avg = row.avg_ms === null ? null : Math.round(Number(row.avg_ms));
    const p90 = row.p90_ms === null ? null : Math.round(Number(row.p90_ms));
    return {
      clientId: row.client_id,
      severity: row.severity,
      clock: row.kind,
      incidents: Number(row.incidents),
      met,
      breached,
      running: Number(row.running),
      compliance: met + breached ? met / (met + breached) : null,
      averageMs: avg,
      average: avg === null ? null : formatMs(avg),
      p90Ms: p90,
      p90: p90 === null ? null : formatMs(p90),
    };
  });
  const decided = lines.reduce((sum, line) => sum + line.met + line.breached, 0);
  return {
    from: query.from.toISOString(),
    to: query.to.toISOString(),
    client: query.client ?? null,
    overallCompliance: decided ? lines.reduce((sum, line) => sum + line.met, 0) / decided : null,
    lines,
  };
}
