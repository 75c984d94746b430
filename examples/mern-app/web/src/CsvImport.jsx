import { useState } from 'react';

import { api } from './api.js';

export function CsvImport() {
  const [result, setResult] = useState(null);
  const [message, setMessage] = useState('');

  async function submit(event) {
    event.preventDefault();
    const file = event.target.elements.file.files[0];
    if (!file) return;
    const form = new FormData();
    form.append('file', file);
    setMessage(`Profiling ${file.name}...`);
    try {
      setResult(await api('/csv', { method: 'POST', form }));
      setMessage('');
    } catch (error) {
      setMessage(error.message);
    }
  }

  const profile = result?.profile;
  return (
    <section>
      <form className="upload" onSubmit={submit}>
        <input type="file" name="file" accept=".csv,text/csv" data-testid="csv-input" />
        <button type="submit">Profile</button>
        <span className="message">{message}</span>
      </form>
      {profile && (
        <div data-testid="csv-profile">
          <p>{result.filename}: {profile.rows} rows, {profile.columns.length} columns, {profile.badRowCount ?? 0} bad rows</p>
          <table>
            <thead><tr><th>column</th><th>type</th><th>nulls</th><th>min</th><th>max</th><th>mean</th><th>distinct</th><th>top values</th></tr></thead>
            <tbody>
              {profile.columns.map((column) => (
                <tr key={column.name}>
                  <td>{column.name}</td><td>{column.type}</td><td>{column.nullCount}</td><td>{column.min}</td><td>{column.max}</td>
                  <td>{column.mean?.toFixed?.(2)}</td><td>{Math.round(column.distinctEstimate ?? 0)}</td>
                  <td>{(column.topValues ?? []).slice(0, 3).map((top) => `${top.value} (${top.count})`).join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
