import { ValidationError } from '../../domain/errors.js';

/**
 * The in-instance helper that SSM Run Command executes to deliver an event (seed 000;
 * docs/lifecycle.md#event-scripts): POSIX `sh` for Linux (AWS-RunShellScript; it runs under dash — the seed's helper
 * used bash syntax under #!/bin/sh) and PowerShell for Windows (AWS-RunPowerShellScript). Every value placed in
 * either is single-quoted, so a tag, an argument or a path can never be executed.
 *
 * Exit-code table of the event script `<dir>/<event>`:
 *   absent → success · present but not executable → failure · exit 0 → success · non-zero → failure ·
 *   still running after the time limit → killed, failure.
 * The helper always exits 0 and prints the script's output (its last 2000 bytes, so SSM's 2500-character cap never
 * cuts it) followed by one status line: `FLEETWARDEN-STATUS <ok|failed|timeout|absent|not-executable> <code>`.
 */

export const STATUS_PREFIX = 'FLEETWARDEN-STATUS';
export const BYPASS_PREFIX = 'FLEETWARDEN-BYPASS';
/** SSM keeps this many characters of a command's output (CommandPluginOutput). */
export const SSM_OUTPUT_CAP = 2500;
const OUTPUT_TAIL_BYTES = 2000;

/** Quotes a value for POSIX sh: inside single quotes nothing is special; a quote is closed, escaped and reopened. */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new ValidationError('value', 'contains a NUL character, which no shell argument can hold');
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Quotes a value for PowerShell: inside single quotes only a quote is special, and it is doubled. PowerShell also
 * takes the typographic quotes ‘ ’ ‚ ‛ for a single quote, so they are doubled too (left alone, one closes the string).
 */
export function powershellQuote(value: string): string {
  if (value.includes('\0')) throw new ValidationError('value', 'contains a NUL character');
  return `'${value.replace(/['\u2018\u2019\u201A\u201B]/g, '$&$&')}'`;
}

/** Where Windows instances keep their event scripts: `<dir>\\<event>.ps1`. */
export const WINDOWS_EVENT_DIR = 'C:\\ProgramData\\Fleetwarden\\events';

export interface HelperOptions {
  /** Directory of the event scripts, e.g. /etc/fleetwarden/events/. */
  readonly dir: string;
  readonly event: string;
  readonly args: readonly string[];
  readonly timeoutSeconds: number;
}

function checkDir(dir: string): void {
  if (!dir.startsWith('/')) throw new ValidationError('events.dir', `must be an absolute path, got ${JSON.stringify(dir)}`);
}

function checkEvent(o: HelperOptions): void {
  if (!/^[a-z0-9][a-z0-9-]{0,127}$/.test(o.event)) throw new ValidationError('event', `not an event name: ${JSON.stringify(o.event)}`);
  if (!Number.isInteger(o.timeoutSeconds) || o.timeoutSeconds < 1 || o.timeoutSeconds > 3600) throw new ValidationError('timeoutSeconds', 'must be a whole number of seconds from 1 to 3600');
}

/** The shell script that runs one event script with its arguments and a time limit. */
export function eventHelperScript(o: HelperOptions): string {
  checkDir(o.dir);
  checkEvent(o);
  const args = o.args.map(shellQuote).join(' ');
  return `#!/bin/sh
# Fleetwarden event helper: POSIX sh, every value single-quoted.
set -u
dir=${shellQuote(o.dir.replace(/\/+$/, ''))}
event=${shellQuote(o.event)}
limit=${o.timeoutSeconds}
script="$dir/$event"
status() { printf '%s %s %s\\n' '${STATUS_PREFIX}' "$1" "$2"; exit 0; }
[ -e "$script" ] || status absent 0
[ -f "$script" ] && [ -x "$script" ] || status not-executable 126
out=$(mktemp 2>/dev/null || echo "/tmp/fleetwarden-event.$$")
: > "$out"
timedout="$out.timedout"
"$script" ${args} > "$out" 2>&1 &
pid=$!
# The watcher's output goes nowhere: a leftover sleep must not hold the command's output open.
( sleep "$limit"; if kill -0 "$pid" 2>/dev/null; then : > "$timedout"; kill -TERM "$pid" 2>/dev/null; sleep 5; kill -KILL "$pid" 2>/dev/null; fi ) > /dev/null 2>&1 &
watcher=$!
wait "$pid"
rc=$?
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
tail -c ${OUTPUT_TAIL_BYTES} "$out"
[ -s "$out" ] && [ "$(tail -c 1 "$out" | od -An -c | tr -d ' ')" != '\\n' ] && echo
if [ -e "$timedout" ]; then rm -f "$out" "$timedout"; status timeout "$rc"; fi
rm -f "$out"
[ "$rc" -eq 0 ] && status ok 0
status failed "$rc"
`;
}

/**
 * The PowerShell twin of `eventHelperScript`, for Windows instances (AWS-RunPowerShellScript). The event script is
 * `<dir>\<event>.ps1`; it runs in a background job (its arguments pass as values, never through a command line, so
 * nothing in them is parsed) under the same exit-code table and time limit, and the helper prints the same tail
 * and status line. Variables are prefixed `fw` so none shadows an automatic variable ($Event, $args, $input).
 */
export function powershellEventHelperScript(o: HelperOptions): string {
  if (!/^[A-Za-z]:\\/.test(o.dir)) throw new ValidationError('events.windowsDir', `must be an absolute Windows path (C:\\...), got ${JSON.stringify(o.dir)}`);
  checkEvent(o);
  const args = o.args.map(powershellQuote).join(', ');
  return `# Fleetwarden event helper (PowerShell): every value single-quoted.
$fwDir = ${powershellQuote(o.dir.replace(/\\+$/, ''))}
$fwEvent = ${powershellQuote(o.event)}
$fwLimit = ${o.timeoutSeconds}
$fwArgs = [string[]]@(${args})
function Send-FwStatus([string]$Status, [long]$Code) { Write-Output ('${STATUS_PREFIX} ' + $Status + ' ' + $Code); exit 0 }
try {
  $fwScript = Join-Path -Path $fwDir -ChildPath ($fwEvent + '.ps1')
  if (-not (Test-Path -LiteralPath $fwScript)) { Send-FwStatus 'absent' 0 }
  if (-not (Test-Path -LiteralPath $fwScript -PathType Leaf)) { Send-FwStatus 'not-executable' 126 }
  $fwJob = Start-Job -ArgumentList $fwScript, $fwArgs -ScriptBlock {
    param([string]$Path, [string[]]$Rest)
    try { Set-ExecutionPolicy -Scope Process -ExecutionPolicy Bypass -Force } catch { }
    if ($null -eq $Rest) { $Rest = @() }
    $global:LASTEXITCODE = 0
    $code = 0
    try {
      & $Path @Rest 2>&1 | ForEach-Object { [string]$_ }
      if ($null -ne $LASTEXITCODE) { $code = $LASTEXITCODE }
    } catch {
      [string]$_
      $code = 1
    }
    'FLEETWARDEN-RC ' + $code
  }
  $fwTimedOut = $null -eq (Wait-Job -Job $fwJob -Timeout $fwLimit)
  if ($fwTimedOut) { Stop-Job -Job $fwJob }
  $fwLines = @(Receive-Job -Job $fwJob 2>&1 | ForEach-Object { [string]$_ })
  Remove-Job -Job $fwJob -Force
  $fwCode = 1
  if ($fwLines.Count -gt 0 -and $fwLines[-1] -match '^FLEETWARDEN-RC (-?[0-9]+)$') {
    $fwCode = [long]$Matches[1]
    if ($fwLines.Count -gt 1) { $fwLines = $fwLines[0..($fwLines.Count - 2)] } else { $fwLines = @() }
  }
  $fwText = $fwLines -join "\`n"
  if ($fwText.Length -gt ${OUTPUT_TAIL_BYTES}) { $fwText = $fwText.Substring($fwText.Length - ${OUTPUT_TAIL_BYTES}) }
  if ($fwText.Length -gt 0) { Write-Output $fwText }
  if ($fwTimedOut) { Send-FwStatus 'timeout' 124 }
  if ($fwCode -eq 0) { Send-FwStatus 'ok' 0 }
  # The status line carries 1-255 like a POSIX exit status; Windows codes outside it are reported as 255.
  if ($fwCode -lt 1 -or $fwCode -gt 255) { $fwCode = 255 }
  Send-FwStatus 'failed' $fwCode
} catch {
  Write-Output ('helper error: ' + [string]$_)
  Send-FwStatus 'failed' 1
}
`;
}

/** The script that checks a tier-stop bypass file inside the guest (`test -e` on Linux, `Test-Path` on Windows). */
export function bypassCheckScript(path: string, os: 'linux' | 'windows'): string {
  if (path.trim() === '') throw new ValidationError('bypassFile.path', 'is empty');
  if (os === 'windows') {
    return `if (Test-Path -LiteralPath ${powershellQuote(path)}) { '${BYPASS_PREFIX} present' } else { '${BYPASS_PREFIX} absent' }`;
  }
  if (!path.startsWith('/')) throw new ValidationError('bypassFile.path', `must be an absolute path, got ${JSON.stringify(path)}`);
  return `#!/bin/sh
if [ -e ${shellQuote(path)} ]; then echo '${BYPASS_PREFIX} present'; else echo '${BYPASS_PREFIX} absent'; fi
`;
}

export type HelperStatus = 'ok' | 'failed' | 'timeout' | 'absent' | 'not-executable';

export interface HelperOutcome {
  readonly ok: boolean;
  readonly status: HelperStatus | 'no-status';
  readonly exitCode: number | null;
  /** The output SSM returned was cut at its cap: the status line may have been lost with it. */
  readonly truncated: boolean;
  readonly detail: string;
}

/**
 * Reads the helper's status line from a command's output; a missing line is a failure
 * (docs/lifecycle.md#event-scripts).
 */
export function parseHelperOutput(output: string): HelperOutcome {
  const truncated = output.length >= SSM_OUTPUT_CAP || output.includes('--output truncated--');
  const line = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${STATUS_PREFIX} `))
    .at(-1);
  const m = line === undefined ? null : /^FLEETWARDEN-STATUS (ok|failed|timeout|absent|not-executable) (\d{1,3})$/.exec(line);
  if (!m) {
    return { ok: false, status: 'no-status', exitCode: null, truncated, detail: truncated ? 'output truncated before the status line' : 'no status line in the output' };
  }
  const status = m[1] as HelperStatus;
  const exitCode = Number(m[2]);
  const ok = status === 'ok' || status === 'absent';
  const detail = status === 'ok' ? 'exit 0' : status === 'absent' ? 'no script: success' : status === 'not-executable' ? 'script present but not executable' : status === 'timeout' ? `killed after the time limit (exit ${exitCode})` : `exit ${exitCode}`;
  return { ok, status, exitCode, truncated, detail };
}

/** Reads a bypass check's answer: `present`, `absent`, or `unknown` when it is missing (fail safe: not stopped). */
export function parseBypassOutput(output: string): 'present' | 'absent' | 'unknown' {
  const m = new RegExp(`${BYPASS_PREFIX} (present|absent)`).exec(output);
  return m ? (m[1] as 'present' | 'absent') : 'unknown';
}
