import { useState } from 'react';

import { api } from './api.js';

export function Login({ onSession }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(mode) {
    setBusy(true);
    setError('');
    try {
      onSession(await api(`/auth/${mode}`, { method: 'POST', json: { name, password } }));
    } catch (failure) {
      setError(failure.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="login" onSubmit={(event) => { event.preventDefault(); submit('login'); }}>
      <h1>heavylift photos</h1>
      <label>Name <input name="name" value={name} onChange={(event) => setName(event.target.value)} autoComplete="username" /></label>
      <label>Password <input name="password" type="password" value={password} onChange={(event) => setPassword(event.target.value)} autoComplete="current-password" /></label>
      <div className="buttons">
        <button type="submit" disabled={busy}>Log in</button>
        <button type="button" disabled={busy} onClick={() => submit('signup')}>Sign up</button>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
    </form>
  );
}
