import type { Principal } from '../auth/principal.ts';
import type { UsageRow } from '../db/queries/usage.ts';
import { roundUsd } from '../predictions/pricing.ts';
import type { PredictionStatus as Status } from '../vocabulary.ts';
import { builder } from './builder.ts';
import { PredictionStatus } from './enums.ts';
import { badUserInput, forbidden } from './errors.ts';

const AuthMethod = builder.enumType('AuthMethod', {
  values: { NONE: { value: 'none' }, JWT: { value: 'jwt' }, API_KEY: { value: 'apikey' } } as const,
});

const Limits = builder.objectRef<Principal['limits']>('Limits').implement({
  description: 'Limits on the caller; null means unlimited.',
  fields: (t) => ({
    activeJobs: t.int({
      nullable: true,
      description: 'Unfinished jobs at once.',
      resolve: (l) => l.activeJobs ?? null,
    }),
    jobsPerMinute: t.int({
      nullable: true,
      description: 'Submissions in any 60 seconds.',
      resolve: (l) => l.jobsPerMinute ?? null,
    }),
    dailySpendUsd: t.float({
      nullable: true,
      description: 'Spend per UTC day: what finished jobs were charged plus the price of unfinished ones.',
      resolve: (l) => l.dailySpendUsd ?? null,
    }),
  }),
});

interface Activity {
  activeJobs: number;
  jobsLastMinute: number;
  spentTodayUsd: number;
}

const ViewerActivity = builder.objectRef<Activity>('ViewerActivity').implement({
  description: 'What counts against the limits right now.',
  fields: (t) => ({
    activeJobs: t.exposeInt('activeJobs'),
    jobsLastMinute: t.exposeInt('jobsLastMinute'),
    spentTodayUsd: t.float({
      description: 'Charged plus reserved, this UTC day.',
      resolve: (a) => roundUsd(a.spentTodayUsd),
    }),
  }),
});

const Viewer = builder.objectRef<Principal>('Viewer').implement({
  description: 'The caller, as the gateway knows them.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'A JWT subject, key:<API key id>, or anonymous.' }),
    tenantId: t.exposeString('tenantId', { nullable: true }),
    admin: t.exposeBoolean('admin', { description: "Sees the tenant's predictions (all of them without a tenant)." }),
    authenticatedBy: t.expose('method', { type: AuthMethod }),
    limits: t.expose('limits', { type: Limits }),
    activity: t.field({
      type: ViewerActivity,
      resolve: (principal, _args, { predictions }) => predictions.activity(principal),
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: Viewer,
    description: 'Who is calling, their limits and where they stand.',
    resolve: (_root, _args, { principal }) => principal,
  }),
);

interface StatusUsage {
  status: Status;
  jobs: number;
  seconds: number;
}

const UsageByStatus = builder.objectRef<StatusUsage>('UsageByStatus').implement({
  fields: (t) => ({
    status: t.expose('status', { type: PredictionStatus }),
    jobs: t.exposeInt('jobs'),
    seconds: t.exposeInt('seconds', { description: 'Seconds of video these jobs asked for.' }),
  }),
});

interface Usage {
  userId: string;
  tenantId: string | null;
  byStatus: StatusUsage[];
  costUsd: number;
  reservedUsd: number;
}

const UsageType = builder.objectRef<Usage>('Usage').implement({
  description: 'Jobs one caller created in a period.',
  fields: (t) => ({
    userId: t.exposeString('userId'),
    tenantId: t.exposeString('tenantId', { nullable: true }),
    jobs: t.int({ resolve: (u) => u.byStatus.reduce((sum, s) => sum + s.jobs, 0) }),
    byStatus: t.expose('byStatus', { type: [UsageByStatus] }),
    videoSeconds: t.int({
      description: 'Seconds of video delivered (SUCCEEDED jobs).',
      resolve: (u) => u.byStatus.find((s) => s.status === 'SUCCEEDED')?.seconds ?? 0,
    }),
    costUsd: t.float({ description: 'What finished jobs were charged.', resolve: (u) => roundUsd(u.costUsd) }),
    reservedUsd: t.float({
      description: 'The price of jobs still unfinished.',
      resolve: (u) => roundUsd(u.reservedUsd),
    }),
  }),
});

const MAX_RANGE_MS = 366 * 24 * 60 * 60_000;

builder.queryField('usage', (t) =>
  t.field({
    type: [UsageType],
    description:
      "Jobs created in [from, to): the caller's own, as one entry (zeros included); with everyone: true (admins only), one entry per user among the predictions the admin may see.",
    args: {
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
      everyone: t.arg.boolean({ defaultValue: false }),
    },
    resolve: async (_root, { from, to, everyone }, { predictions, principal }) => {
      if (to.getTime() <= from.getTime()) throw badUserInput('to', 'must be after from');
      if (to.getTime() - from.getTime() > MAX_RANGE_MS) throw badUserInput('to', 'must be at most 366 days after from');
      if (everyone && !principal.admin) throw forbidden('usage(everyone: true) is for admins');
      const rows = await predictions.usage(principal, { from, to }, everyone ?? false);
      const usage = groupByUser(rows);
      if (!everyone && usage.length === 0)
        usage.push({ userId: principal.id, tenantId: principal.tenantId, byStatus: [], costUsd: 0, reservedUsd: 0 });
      return usage;
    },
  }),
);

function groupByUser(rows: UsageRow[]): Usage[] {
  const users = new Map<string, Usage>();
  for (const row of rows) {
    const key = JSON.stringify([row.ownerId, row.tenantId]);
    const usage = users.get(key) ?? {
      userId: row.ownerId,
      tenantId: row.tenantId,
      byStatus: [],
      costUsd: 0,
      reservedUsd: 0,
    };
    usage.byStatus.push({ status: row.status, jobs: row.jobs, seconds: row.seconds });
    usage.costUsd += row.costUsd;
    usage.reservedUsd += row.reservedUsd;
    users.set(key, usage);
  }
  return [...users.values()];
}
