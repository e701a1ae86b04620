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

/**
 * POST `body` (FormData, Blob…) with XMLHttpRequest so the upload's byte progress can be shown:
 * `onProgress(sentBytes, totalBytes)` as the browser sends it. Resolves with the JSON answer;
 * an error answer throws an ApiError with its problem document.
 */
export function uploadWithProgress(path, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('accept', 'application/json');
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : undefined);
    xhr.onload = () => {
      const text = xhr.responseText;
      if (xhr.status >= 200 && xhr.status < 300) return resolve(text ? JSON.parse(text) : undefined);
      let problem;
      try { problem = JSON.parse(text); } catch { problem = undefined; }
      reject(new ApiError(xhr.status, problem, text));
    };
    xhr.onerror = () => reject(new ApiError(0, undefined, 'the upload failed (connection lost)'));
    xhr.send(body);
  });
}
