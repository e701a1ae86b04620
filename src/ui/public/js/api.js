// Calls the /v1 API with the key from localStorage; errors carry the problem+json body.
const KEY_STORAGE = 'trainer.apiKey';

export function getApiKey() {
  try { return localStorage.getItem(KEY_STORAGE) || ''; } catch { return ''; }
}

export function setApiKey(key) {
  try { key ? localStorage.setItem(KEY_STORAGE, key) : localStorage.removeItem(KEY_STORAGE); } catch { /* private mode */ }
}

export function authHeaders() {
  const key = getApiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** An HTTP error with the server's problem document (RFC 9457), if any. */
export class ApiError extends Error {
  constructor(status, problem, text) {
    super(problem?.detail || problem?.title || text || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

/** fetch + JSON; `body` objects are sent as JSON, FormData/Blob/string as they are. */
export async function api(method, path, { body, headers = {}, as = 'json' } = {}) {
  const h = { accept: 'application/json', ...authHeaders(), ...headers };
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof Blob) && typeof body !== 'string') {
    payload = JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const res = await fetch(path, { method, headers: h, body: payload });
  if (as === 'blob' && res.ok) return res.blob();
  const text = await res.text();
  if (!res.ok) {
    let problem;
    try { problem = JSON.parse(text); } catch { problem = undefined; }
    throw new ApiError(res.status, problem, text);
  }
  if (as === 'text') return text;
  return text ? JSON.parse(text) : undefined;
}

/** Items of a list response, whatever the envelope (bare array, items, data...). */
export function listItems(body) {
  if (Array.isArray(body)) return body;
  return body?.items ?? body?.data ?? body?.jobs ?? body?.datasets ?? [];
}

/** Per-epoch rows of GET /v1/jobs/{id}/metrics, whatever the envelope. */
export function metricRows(body) {
  if (Array.isArray(body)) return body;
  return body?.history ?? body?.epochs ?? body?.items ?? body?.metrics ?? [];
}
