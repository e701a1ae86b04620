import { HttpProblem } from './problem.js';

/**
 * Waits (polling every 50 ms, `tries` times) for the resource that another request is creating
 * under the same Idempotency-Key; a 409 `idempotency_in_progress` if it does not appear in time.
 */
export async function awaitIdempotentResource<T>(lookup: () => Promise<T | null>, tries = 50): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const found = await lookup();
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new HttpProblem(409, 'idempotency_in_progress', 'a request with this Idempotency-Key is still being processed; retry shortly');
}
