/**
 * A training spec (or a core function's argument) the user can fix: `path` names the field,
 * e.g. `optimizer.beta1`, and the message says what is expected.
 */
export class InvalidSpecError extends Error {
  readonly code = 'INVALID_SPEC';
  constructor(
    public readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidSpecError';
  }
}
