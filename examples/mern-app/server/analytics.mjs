// The dashboard: activity events are stored in MongoDB, and heavylift's
// AggregateService reads the collection itself (model "Activity" of
// schema.json) and groups it, so Node never loads the events.
import { Router } from 'express';

/** Returns the analytics router. */
export function createAnalytics({ client, config, requireUser }) {
  const source = (filter) => ({ mongo: { uri: config.mongoUri, database: config.mongoDatabase, filter } });

  async function stats() {
    const [perDay, sizes, byType] = await Promise.all([
      client.aggregate.run({
        model: 'Activity',
        source: source({ type: 'upload' }),
        groupBy: [{ field: 'at', bucket: 'day', timeZone: config.timeZone }],
        aggregates: [{ kind: 'count' }, { kind: 'sum', field: 'bytes', name: 'bytes' }],
      }),
      client.aggregate.run({
        model: 'Activity',
        source: source({ type: 'upload' }),
        aggregates: [
          { kind: 'count' },
          { kind: 'quantiles', field: 'bytes', quantiles: [0.5, 0.95], name: 'size' },
          { kind: 'topK', field: 'userName', k: 5, name: 'top' },
          { kind: 'distinctCount', field: 'user', name: 'uploaders' },
        ],
      }),
      client.aggregate.run({ model: 'Activity', source: source({}), groupBy: ['type'], aggregates: [{ kind: 'count' }] }),
    ]);
    const overall = sizes.groups[0];
    return {
      uploadsPerDay: perDay.groups.map((group) => ({
        day: group.keys[0] instanceof Date ? group.keys[0].toISOString().slice(0, 10) : String(group.keys[0]),
        uploads: group.count,
        bytes: group.values.bytes,
      })),
      uploads: overall?.count ?? 0,
      medianUploadBytes: overall?.values.size?.[0] ?? null,
      p95UploadBytes: overall?.values.size?.[1] ?? null,
      uploaders: overall ? Math.round(overall.values.uploaders) : 0,
      topUploaders: (overall?.values.top ?? []).map(({ value, count }) => ({ name: value, uploads: count })),
      eventsByType: Object.fromEntries(byType.groups.map((group) => [group.keys[0], group.count])),
      recordsRejected: perDay.recordsRejected + sizes.recordsRejected + byType.recordsRejected,
    };
  }

  const router = Router();
  router.get('/', requireUser, async (_request, response) => {
    response.json(await stats());
  });
  return { router };
}
