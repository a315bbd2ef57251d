/**
 * Thrown for invalid input, before any kernel runs: nothing has been written and the instance stays usable.
 * `argument` names the offending argument (for example `pred`, `label`, `options.beta`).
 */
export class GflInputError extends RangeError {
  readonly argument: string;
  constructor(argument: string, message: string) {
    super(`gfloss: ${argument}: ${message}`);
    this.name = 'GflInputError';
    this.argument = argument;
  }
}
