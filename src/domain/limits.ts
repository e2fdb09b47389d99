import { ValidationError } from './errors.js';

/** The limits of a maintenance task (SSM's MaxConcurrency and MaxErrors): a whole number, or a share of the targets. */
/** MaxConcurrency: a positive integer or 1%-100% (the API's pattern). */
const CONCURRENCY = /^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/;
/** MaxErrors: an integer ≥ 0 or 0%-100%. */
const ERRORS = /^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/;

export interface Limit {
  readonly value: number;
  readonly percent: boolean;
}

export function parseMaxConcurrency(text: string, field = 'maxConcurrency'): Limit {
  if (text.length > 7 || !CONCURRENCY.test(text)) throw new ValidationError(field, `expected a positive whole number or 1%-100%, got ${JSON.stringify(text)}`);
  return { value: Number(text.replace('%', '')), percent: text.endsWith('%') };
}

export function parseMaxErrors(text: string, field = 'maxErrors'): Limit {
  if (text.length > 7 || !ERRORS.test(text)) throw new ValidationError(field, `expected a whole number ≥ 0 or 0%-100%, got ${JSON.stringify(text)}`);
  return { value: Number(text.replace('%', '')), percent: text.endsWith('%') };
}
