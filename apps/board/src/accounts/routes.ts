import { Router } from 'express';
import { z } from 'zod';
import { accountOverview, type Accounts, type FleetReader } from '@reins/shared';
import { accountsPage, accountsTable } from '../views/accounts-page.js';

const QuerySchema = z.object({ fragment: z.literal('table').optional() });

export interface AccountsRouterOptions {
  accounts: Accounts;
  fleet: FleetReader;
  readOnly: boolean;
}

/** `/accounts`: every Claude account the fleet knows, read from Redis on each request (names and state only). */
export function accountsRouter({ accounts, fleet, readOnly }: AccountsRouterOptions): Router {
  const router = Router();
  router.get('/accounts', async (req, res) => {
    const query = QuerySchema.safeParse(req.query);
    if (!query.success) {
      res.status(400).type('text/plain').send('Bad query: fragment: expected "table"\n');
      return;
    }
    const now = Date.now();
    const overview = await accountOverview(accounts, await fleet.liveWorkers(), now);
    res.set('Cache-Control', 'no-store').type('html');
    res.send(query.data.fragment === 'table' ? accountsTable(overview, now).value : accountsPage({ accounts: overview, readOnly, now }));
  });
  return router;
}
