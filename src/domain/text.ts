/**
 * Text from outside (tag values, reasons, API answers, script output) shown on a terminal or written to a log:
 * control characters are escaped, so a value cannot start a forged line (`\n2026-01-01 … INFO forged`), move the
 * cursor or recolour the screen (ESC, CSI), or reorder what is shown (bidirectional overrides).
 *
 * Escaped: C0 controls and DEL (`\n`, `\r`, `\t` by name, the rest as `\xHH`), C1 controls, the Unicode line and
 * paragraph separators and the bidirectional controls (as `\uHHHH`). Everything else — other non-ASCII text,
 * backslashes — is left as it is.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    const named = NAMED[c];
    if (named !== undefined) return named;
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * Orders instance ids by code unit: for EC2's `i-` and lowercase hex the order `localeCompare` gives, at a fraction
 * of its cost (the planner breaks ties with it for every candidate of every tick).
 */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
