// Calls the API with the session token kept in localStorage.
const TOKEN_KEY = 'heavylift-demo-token';

export function savedSession() {
  const raw = localStorage.getItem(TOKEN_KEY);
  return raw ? JSON.parse(raw) : null;
}

export function saveSession(session) {
  if (session) localStorage.setItem(TOKEN_KEY, JSON.stringify(session));
  else localStorage.removeItem(TOKEN_KEY);
}

/** An error response of the API, with its HTTP status and JSON body. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(path, { method = 'GET', json, form } = {}) {
  const session = savedSession();
  const headers = {};
  if (session) headers.authorization = `Bearer ${session.token}`;
  let body;
  if (json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const response = await fetch(`/api${path}`, { method, headers, body });
  const answer = await response.json().catch(() => ({}));
  if (response.status === 401 && session) {
    // The session expired or its key changed: back to the log-in form.
    saveSession(null);
    location.reload();
  }
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}
