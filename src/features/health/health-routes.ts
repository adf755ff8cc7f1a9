import type { MikroORM } from '@mikro-orm/postgresql';
import express from 'express';
import { isDatabaseReady } from '../../db/database';

export function createHealthRoutes(deps: { orm: MikroORM; isShuttingDown: () => boolean }) {
  const router = express.Router();

  // Liveness: the process answers. Never touches the database, so a database outage
  // does not get the daemon restarted in a loop.
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Readiness: the database answers and every migration is applied.
  router.get('/readyz', async (_req, res) => {
    if (deps.isShuttingDown()) return res.status(503).json({ status: 'shutting_down' });
    const ready = await isDatabaseReady(deps.orm);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'database_unavailable' });
  });

  return router;
}
