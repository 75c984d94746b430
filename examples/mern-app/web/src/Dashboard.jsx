import { useCallback, useEffect, useState } from 'react';

import { api } from './api.js';

const kib = (bytes) => (bytes == null ? '-' : `${(bytes / 1024).toFixed(0)} KiB`);

function Bars({ rows, label, value, testId }) {
  const max = Math.max(1, ...rows.map(value));
  const width = 420;
  const rowHeight = 26;
  return (
    <svg width={width} height={rows.length * rowHeight + 4} data-testid={testId} role="img">
      {rows.map((row, index) => (
        <g key={label(row)} transform={`translate(0, ${index * rowHeight})`}>
          <text x="0" y="17" fontSize="13">{label(row)}</text>
          <rect x="110" y="4" height="18" width={(value(row) / max) * (width - 160)} fill="#3d7bd9" />
          <text x={115 + (value(row) / max) * (width - 160)} y="17" fontSize="13">{value(row)}</text>
        </g>
      ))}
    </svg>
  );
}

export function Dashboard({ socket }) {
  const [stats, setStats] = useState(null);
  const [error, setError] = useState('');

  const load = useCallback(() => {
    api('/stats').then((next) => { setStats(next); setError(''); }).catch((failure) => setError(failure.message));
  }, []);

  useEffect(load, [load]);
  useEffect(() => {
    if (!socket) return undefined;
    socket.on('stats:changed', load);
    return () => socket.off('stats:changed', load);
  }, [socket, load]);

  if (error) return <p className="error" role="alert">{error}</p>;
  if (!stats) return <p>Loading...</p>;
  return (
    <section className="dashboard">
      <div className="numbers">
        <div><b data-testid="stat-uploads">{stats.uploads}</b> uploads</div>
        <div><b data-testid="stat-uploaders">{stats.uploaders}</b> uploaders</div>
        <div><b data-testid="stat-median">{kib(stats.medianUploadBytes)}</b> median size</div>
        <div><b data-testid="stat-p95">{kib(stats.p95UploadBytes)}</b> p95 size</div>
      </div>
      <h2>Uploads per day</h2>
      <Bars rows={stats.uploadsPerDay} label={(row) => row.day} value={(row) => row.uploads} testId="chart-per-day" />
      <h2>Top uploaders</h2>
      <Bars rows={stats.topUploaders} label={(row) => row.name} value={(row) => row.uploads} testId="chart-top" />
      <h2>Events</h2>
      <Bars rows={Object.entries(stats.eventsByType).map(([type, count]) => ({ type, count }))} label={(row) => row.type} value={(row) => row.count} testId="chart-events" />
    </section>
  );
}
