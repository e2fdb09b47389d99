import { ValidationError } from './errors.js';

/** Object keys are relative paths: no empty segment, no `.`/`..`, no backslash — nothing that escapes the root. */
export function checkKey(key: string): string {
  const parts = key.split('/');
  if (key === '' || key.startsWith('/') || key.includes('\\') || key.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new ValidationError('key', `"${key}" is not a valid object key`);
  }
  return key;
}
