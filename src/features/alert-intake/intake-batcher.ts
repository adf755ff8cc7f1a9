import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../../platform/clock';
import type { Logger } from '../../platform/logger';
import { storeAlertmanagerDeliveries, type DeliveryInput, type StoreResult } from './intake-store';

interface Pending {
  input: DeliveryInput;
  resolve: (result: StoreResult) => void;
  reject: (error: unknown) => void;
}

const MAX_BATCH_DELIVERIES = 64;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Group commit for webhooks. While one batch is being written, newly arrived webhooks
 * wait and go together in the next statement; a lone webhook is written at once, so
 * batching adds no delay when the daemon is quiet. Every sender still gets its 2xx only
 * after its own alerts are committed.
 *
 * If a batch fails, each of its webhooks is retried on its own, so one webhook
 * PostgreSQL rejects cannot make every other sender retry forever.
 */
export function createIntakeBatcher(deps: { orm: MikroORM; clock: Clock; logger: Logger }) {
  const queue: Pending[] = [];
  let writing = false;

  async function writeBatch(batch: Pending[]): Promise<void> {
    try {
      const results = await storeAlertmanagerDeliveries(deps.orm, batch.map((p) => p.input), deps.clock.now());
      batch.forEach((pending, index) => pending.resolve(results[index]!));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      deps.logger.warn({ err: error, deliveries: batch.length }, 'batched webhook write failed; retrying each webhook on its own');
      await Promise.all(batch.map((pending) => storeAlertmanagerDeliveries(deps.orm, [pending.input], deps.clock.now()).then(([result]) => pending.resolve(result!), pending.reject)));
    }
  }

  async function drain(): Promise<void> {
    writing = true;
    try {
      while (queue.length > 0) {
        const batch: Pending[] = [];
        let bytes = 0;
        while (queue.length > 0 && batch.length < MAX_BATCH_DELIVERIES && (batch.length === 0 || bytes + queue[0]!.input.rawPayload.length <= MAX_BATCH_BYTES)) {
          const next = queue.shift()!;
          bytes += next.input.rawPayload.length;
          batch.push(next);
        }
        await writeBatch(batch);
      }
    } finally {
      writing = false;
    }
  }

  return {
    store(input: DeliveryInput): Promise<StoreResult> {
      return new Promise((resolve, reject) => {
        queue.push({ input, resolve, reject });
        if (!writing) void drain();
      });
    },
  };
}
