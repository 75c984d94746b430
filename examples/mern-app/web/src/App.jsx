import { useCallback, useEffect, useState } from 'react';

import { api, savedSession, saveSession } from './api.js';
import { CsvImport } from './CsvImport.jsx';
import { Dashboard } from './Dashboard.jsx';
import { Gallery } from './Gallery.jsx';
import { connectLive } from './live.js';
import { Login } from './Login.jsx';

const PAGES = { gallery: 'Photos', dashboard: 'Dashboard', csv: 'CSV import' };

// The words shown in the activity feed for each event type the API emits.
const ACTIVITY_VERBS = { 'upload:started': 'is uploading', upload: 'uploaded', csv: 'imported' };

function formatBytes(bytes) {
  return bytes < 1024 ? `${bytes} B` : `${Math.round(bytes / 1024)} KiB`;
}

export function App() {
  const [session, setSession] = useState(savedSession);
  const [page, setPage] = useState(() => location.hash.slice(1) || 'gallery');
  const [live, setLive] = useState('connecting');
  const [feed, setFeed] = useState([]);
  const [socket, setSocket] = useState(null);

  const logOut = useCallback(() => {
    saveSession(null);
    setSession(null);
  }, []);

  useEffect(() => {
    const onHash = () => setPage(location.hash.slice(1) || 'gallery');
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    if (!session) return undefined;
    let current;
    let closed = false;
    api('/config').then(({ realtimeUrl }) => {
      if (closed) return;
      current = connectLive(realtimeUrl, session.token, setLive);
      current.on('activity', (event) => setFeed((old) => [event, ...old].slice(0, 30)));
      current.on('job', (event) => {
        const progress = typeof event.progress === 'number' ? ` ${event.progress}%` : '';
        const entry = { type: `renditions ${event.state}${progress}:`, user: 'job', filename: `${event.filename} (${event.format})`, at: new Date().toISOString() };
        setFeed((old) => [entry, ...old].slice(0, 30));
      });
      setSocket(current);
    });
    api('/activity')
      .then(({ events }) => setFeed(events))
      .catch((error) => {
        if (error.status === 401) logOut();
      });
    return () => {
      closed = true;
      current?.close();
    };
  }, [session, logOut]);

  if (!session) {
    return <Login onSession={(next) => { saveSession(next); setSession(next); }} />;
  }

  return (
    <div className="layout">
      <header>
        <h1>heavylift photos</h1>
        <nav>
          {Object.entries(PAGES).map(([key, label]) => (
            <a key={key} href={`#${key}`} className={page === key ? 'active' : ''}>{label}</a>
          ))}
        </nav>
        <span className={`live ${live === 'live' ? 'on' : 'off'}`} data-testid="live-status">{live}</span>
        <span className="user">{session.user.name}</span>
        <button type="button" onClick={logOut}>Log out</button>
      </header>
      <main>
        {page === 'gallery' && <Gallery socket={socket} />}
        {page === 'dashboard' && <Dashboard socket={socket} />}
        {page === 'csv' && <CsvImport />}
      </main>
      <aside>
        <h2>Live activity</h2>
        <ul data-testid="activity-feed">
          {feed.map((event, index) => (
            <li key={index}>
              <b>{event.user}</b> {ACTIVITY_VERBS[event.type] ?? event.type}
              {event.filename ? ` ${event.filename}` : ''}
              {event.bytes ? ` (${formatBytes(event.bytes)})` : ''}
            </li>
          ))}
        </ul>
      </aside>
    </div>
  );
}
