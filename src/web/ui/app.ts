/**
 * The dashboard (docs/dashboard.md): plain TypeScript on the DOM, bundled by esbuild into dist/ui/app.js and served
 * by the controller at /. It talks only to the same API the CLI uses, through the session cookie of POST
 * /v1/session (the token is sent once and never stored by the page), and sends the session's CSRF value with every
 * write. Views refresh by polling every few seconds; nothing reloads the page. Text from the API is put in the page
 * with textContent only; the timeline SVG comes from the shared renderer, which escapes what it prints.
 */
import { renderTimeline } from '../timeline.js';
import { timelineInput, type PeriodRow, type TransitionRow } from '../timeline-data.js';
import { type ExecutionRow, outageInput } from '../outage-data.js';

/** A change in the history wakes the page through a long poll; this slower poll catches what time alone changes. */
const POLL_MS = 15_000;
/** How long one long poll of /v1/changes waits. */
const LONG_POLL_S = 25;
const HOUR = 3_600_000;

interface Session {
  role: 'admin' | 'viewer';
  who: string;
  csrf: string | null;
  expiresAt: string | null;
}
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: { field: string; reason: string }[],
  ) {
    super(message);
  }
}
type Json = Record<string, unknown>;

let session: Session | null = null;
let view = 'overview';
let timer: number | undefined;
/** Counts redraws begun, so that a slow one does not land over a newer one. */
let redraws = 0;
/** Ends the running long poll (sign-out, session over). */
let live: AbortController | null = null;
const state = { timelineGroup: '', zoomBack: 24, zoomAhead: 48, historyBefore: [] as (number | null)[], historyNext: null as number | null, execution: null as string | null };

const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;

/** Builds an element; children are nodes or text (never HTML). */
function h(tag: string, attrs: Record<string, string | boolean | ((e: Event) => void)> = {}, ...children: (Node | string | null | undefined)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k, v);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false) el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

function table(head: string[], rows: (Node | string)[][]): HTMLElement {
  return h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, ...head.map((x) => h('th', { scope: 'col' }, x)))), h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c, i) => h('td', head[i] === 'reason' ? { class: 'reason' } : {}, c)))))));
}

async function api(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Json> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session?.csrf) headers['x-fleetwarden-csrf'] = session.csrf;
  const r = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store', ...(signal === undefined ? {} : { signal }), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await r.text();
  const json = (text === '' ? {} : JSON.parse(text)) as Json;
  if (!r.ok) {
    const e = (json['error'] ?? {}) as { message?: string; fields?: { field: string; reason: string }[] };
    if (r.status === 401 && path !== '/v1/session' && signedIn()) showSignIn('Your session ended: sign in again.');
    throw new ApiError(r.status, e.message ?? `HTTP ${r.status}`, e.fields ?? []);
  }
  return json;
}

const isApiError = (e: unknown): e is ApiError => e instanceof ApiError;
/** Whether a session is open now (it may end while a request is under way). */
const signedIn = (): boolean => session !== null;

// ------------------------------------------------------------------ sign-in

function showSignIn(message = ''): void {
  session = null;
  window.clearInterval(timer);
  live?.abort();
  live = null;
  $('nav').hidden = true;
  $('who').replaceChildren();
  const err = h('p', { class: 'form-error', id: 'signin-error', role: 'alert' }, message);
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true, 'aria-describedby': 'signin-error' }) as HTMLInputElement;
  const form = h(
    'form',
    {
      class: 'signin card',
      submit: (e) => {
        e.preventDefault();
        const token = input.value;
        input.value = '';
        api('POST', '/v1/session', { token }).then(
          () => start(),
          (x: unknown) => (err.textContent = isApiError(x) ? x.message : String(x)),
        );
      },
    },
    h('h2', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'Give the admin token or a viewer token (fleetwarden token issue --viewer). It is exchanged for a session cookie and not kept by this page.'),
    h('label', {}, 'Token', input),
    err,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  $('main').replaceChildren(form);
  input.focus();
}

async function signOut(): Promise<void> {
  try {
    await api('DELETE', '/v1/session');
  } finally {
    showSignIn('Signed out.');
  }
}

async function start(): Promise<void> {
  try {
    session = (await api('GET', '/v1/session')) as unknown as Session;
  } catch {
    showSignIn();
    return;
  }
  const nav = $('nav');
  const views: [string, string][] = [
    ['overview', 'Overview'],
    ['timeline', 'Timeline'],
    ['executions', 'Executions'],
    ['overrides', 'Overrides'],
    ['history', 'History'],
  ];
  nav.replaceChildren(...views.map(([id, label]) => h('button', { type: 'button', id: `nav-${id}`, click: () => void go(id) }, label)));
  nav.hidden = false;
  $('who').replaceChildren(h('span', {}, `${session.role}${session.role === 'viewer' ? ' (read only)' : ''}`), h('button', { type: 'button', id: 'signout', click: () => void signOut() }, 'Sign out'));
  await go(view);
  window.clearInterval(timer);
  timer = window.setInterval(() => void refresh(true), POLL_MS);
  live?.abort();
  live = new AbortController();
  void watch(live.signal);
}

/** Long polls /v1/changes (as agents long-poll their view) and refreshes the view when the version moves. */
async function watch(signal: AbortSignal): Promise<void> {
  let version: string | undefined;
  // A function: the signal is aborted from elsewhere while this loop awaits.
  const aborted = (): boolean => signal.aborted;
  while (!aborted()) {
    try {
      const q = version === undefined ? '' : `&since=${encodeURIComponent(version)}`;
      const r = (await api('GET', `/v1/changes?wait=${LONG_POLL_S}${q}`, undefined, signal)) as { version?: string };
      if (version !== undefined && r.version !== version) await refresh(true);
      version = r.version;
    } catch {
      if (!aborted()) await new Promise((r) => setTimeout(r, 3000));
    }
  }
}

async function go(to: string): Promise<void> {
  view = to;
  for (const b of $('nav').querySelectorAll('button')) b.toggleAttribute('aria-current', b.id === `nav-${to}`);
  for (const b of $('nav').querySelectorAll('button')) if (b.id === `nav-${to}`) b.setAttribute('aria-current', 'page');
  await refresh(false);
  $('main').focus();
}

/** Whether a form in `root` holds something the user typed (a field whose value differs from the one rendered). */
function editing(root: HTMLElement): boolean {
  for (const f of root.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('form input, form textarea')) if (f.value !== f.defaultValue) return true;
  return false;
}

/** Re-renders the current view. */
async function refresh(poll: boolean): Promise<void> {
  if (session === null) return;
  // A poll leaves alone a view where a form is being edited or a timeline bar has the keyboard focus.
  if (poll && document.activeElement?.closest('form, #timeline')) return;
  // Only the latest redraw lands: one begun earlier (a poll of the view just left) must not replace it.
  const gen = ++redraws;
  try {
    const render = { overview, timeline, executions, overrides, history }[view] ?? overview;
    const node = await render();
    if (!signedIn() || gen !== redraws) return;
    const main = $('main');
    // Checked again as it lands: the user may have started editing while the view was being fetched (a redraw begun
    // before the first keystroke must not wipe what was typed).
    if (poll && (document.activeElement?.closest('form, #timeline') || editing(main))) return;
    const focusedId = document.activeElement?.id;
    main.replaceChildren(node);
    if (focusedId) document.getElementById(focusedId)?.focus();
    $('live').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (signedIn()) $('live').textContent = `update failed: ${isApiError(e) ? e.message : String(e)}`;
  }
}

// ------------------------------------------------------------------ views

interface StatusJson {
  at: string;
  instances: { group: string; instance: string; state: string; since: string; reason: string }[];
  leases: { group: string; owner: string | null; expiresAt: string | null }[];
  groups: { group: string; problems: { source: string; subject: string; field: string; value: string; reason: string }[]; lastError: { at: string; message: string } | null }[];
}

async function overview(): Promise<Node> {
  const status = (await api('GET', '/v1/status')) as unknown as StatusJson;
  const ovs = ((await api('GET', '/v1/overrides')) as unknown as { overrides: { group: string; key: string; value: string; expiresAt: string; reason: string }[] }).overrides;
  const windows = (await api('GET', `/v1/windows?days=2&from=${encodeURIComponent(new Date(Date.parse(status.at) - 24 * HOUR).toISOString())}`)) as unknown as { periods: PeriodRow[]; warnings: string[] };
  const now = Date.parse(status.at);
  // The sizing targets in force and the layer that set each (file, schedule, window, override, …): the "why".
  const TARGET_KEYS = ['fleets.main.desired', 'fleets.main.min', 'workload.state'];
  const explained = await Promise.all(status.groups.map((g) => api('GET', `/v1/groups/${encodeURIComponent(g.group)}/config`) as Promise<unknown> as Promise<{ settings: { key: string; value: string; layer: string; source: string; expiresAt: string | null }[] }>));
  const cards = status.groups.map((g, gi) => {
    const targets = (explained[gi]?.settings ?? []).filter((s) => TARGET_KEYS.includes(s.key) && !(s.layer === 'default' && ['unset', 'undefined', 'null'].includes(s.value)));
    const inst = status.instances.filter((i) => i.group === g.group);
    const counts = new Map<string, number>();
    for (const i of inst) counts.set(i.state, (counts.get(i.state) ?? 0) + 1);
    const lease = status.leases.find((l) => l.group === g.group);
    const periods = windows.periods.filter((p) => p.group === g.group);
    const active = periods.filter((p) => Date.parse(p.activeFrom) <= now && now < Date.parse(p.end));
    const next = periods.find((p) => Date.parse(p.activeFrom) > now);
    return h(
      'section',
      { class: 'card group', 'data-group': g.group, 'aria-labelledby': `g-${g.group}` },
      h('h2', { id: `g-${g.group}` }, g.group),
      h('ul', { class: 'counts', 'aria-label': 'instances by lifecycle state' }, ...[...counts].map(([s, n]) => h('li', { 'data-state': s }, `${n} ${s}`))),
      h('p', {}, active.length > 0 ? `In window: ${active.map((p) => `${p.window} until ${p.end}${Date.parse(p.start) > now ? ` (start-ahead; starts ${p.start})` : ''}`).join(', ')}` : 'No window active.'),
      h('p', {}, next === undefined ? 'No window in the next 24 h.' : `Next window: ${next.window} at ${next.start} (active from ${next.activeFrom})`),
      h('p', { class: 'targets' }, `Targets: ${targets.map((t) => `${t.key} = ${t.value} (${t.layer}${t.layer === 'default' || t.layer === 'file' ? '' : `: ${t.source}`}${t.expiresAt === null ? '' : ` until ${t.expiresAt}`})`).join('; ') || 'none set'}`),
      ...ovs.filter((o) => o.group === g.group).map((o) => h('p', { class: 'override' }, `Override ${o.key} = ${o.value} until ${o.expiresAt}: ${o.reason}`)),
      h('p', { class: 'muted' }, `Lease: ${lease?.owner ?? 'nobody'}${lease?.expiresAt ? ` until ${lease.expiresAt}` : ''}`),
      g.lastError === null ? h('p', { class: 'ok' }, 'Last tick: ok') : h('p', { class: 'bad' }, `Last tick failed at ${g.lastError.at}: ${g.lastError.message}`),
      g.problems.length === 0 ? null : h('div', { class: 'bad' }, h('h3', {}, `${g.problems.length} problem(s)`), table(['subject', 'field', 'value', 'reason'], g.problems.map((p) => [p.subject, p.field, p.value, p.reason]))),
      table(['instance', 'state', 'since', 'reason'], inst.map((i) => [i.instance, h('span', { 'data-state': i.state, class: 'state' }, i.state), i.since, i.reason])),
      h('button', { type: 'button', click: () => ((state.timelineGroup = g.group), void go('timeline')) }, `Timeline of ${g.group}`),
    );
  });
  return h('div', {}, h('p', { class: 'muted' }, `Controller time ${status.at}`), h('div', { class: 'cards' }, ...cards));
}

async function timeline(): Promise<Node> {
  const status = (await api('GET', '/v1/status')) as unknown as StatusJson;
  const groups = status.groups.map((g) => g.group);
  if (!groups.includes(state.timelineGroup)) state.timelineGroup = groups[0] ?? '';
  const group = state.timelineGroup;
  const now = Date.parse(status.at);
  const from = now - state.zoomBack * HOUR;
  const to = now + state.zoomAhead * HOUR;
  const days = Math.max(1, Math.ceil((to - from) / (24 * HOUR)));
  const windows = (await api('GET', `/v1/windows?group=${encodeURIComponent(group)}&days=${days}&from=${encodeURIComponent(new Date(from).toISOString())}`)) as unknown as { periods: PeriodRow[] };
  // Transitions of the range: the history, newest first, paged until older than the range (at most 5 pages).
  const transitions: TransitionRow[] = [];
  let before: number | null = null;
  for (let page = 0; page < 5; page++) {
    // Transitions only (filtered by the store), so the pages hold states, not commands and window entries.
    const q = new URLSearchParams({ group, type: 'transition', limit: '1000', ...(before === null ? {} : { before: String(before) }) });
    const hist = (await api('GET', `/v1/history?${q.toString()}`)) as unknown as { entries: { at: string; instance: string | null; type: string; data?: { from?: string; to?: string; reason?: string } }[]; next: number | null };
    for (const e of hist.entries) if (e.type === 'transition' && e.instance !== null && e.data?.to !== undefined) transitions.push({ at: Date.parse(e.at), group, instance: e.instance, from: e.data.from ?? '', to: e.data.to, reason: e.data.reason ?? '' });
    const oldest = hist.entries.at(-1);
    if (hist.next === null || oldest === undefined || Date.parse(oldest.at) < from) break;
    before = hist.next;
  }
  // Instances that did not change in the range show their current state from when it began (unknown before).
  const input = timelineInput(group, from, to, windows.periods, transitions, now);
  const known = new Set(input.instances.map((i) => i.id));
  const still = status.instances.filter((i) => i.group === group && !known.has(i.instance)).map((i) => ({ id: i.instance, changes: [{ at: Math.max(from, Date.parse(i.since)), state: i.state, reason: i.reason }] }));
  const svg = renderTimeline({ ...input, instances: [...input.instances, ...still].sort((a, b) => a.id.localeCompare(b.id)), width: 1200, focusable: true });
  const select = h('select', { id: 'tl-group', change: (e) => ((state.timelineGroup = (e.target as HTMLSelectElement).value), void refresh(false)) }, ...groups.map((g) => h('option', g === group ? { value: g, selected: true } : { value: g }, g)));
  const zoom = (label: string, back: number, ahead: number): HTMLElement => h('button', { type: 'button', 'aria-pressed': String(state.zoomBack === back && state.zoomAhead === ahead), click: () => ((state.zoomBack = back), (state.zoomAhead = ahead), void refresh(false)) }, label);
  const box = h('div', { class: 'timeline-box', id: 'timeline' });
  box.innerHTML = svg; // the shared renderer escapes every name and reason it prints
  // The bar under the pointer or with keyboard focus: its hover text, spelled out below the picture.
  const detail = h('p', { id: 'timeline-detail', 'aria-live': 'polite' }, 'Hover or focus (Tab) a bar for its reason.');
  const show = (e: Event): void => {
    const g = (e.target as Element).closest('g[tabindex]');
    const t = g?.querySelector('title')?.textContent;
    if (t) detail.textContent = t;
  };
  box.addEventListener('focusin', show);
  box.addEventListener('mouseover', show);
  return h('div', {}, h('div', { class: 'toolbar' }, h('label', {}, 'Group', select), zoom('−6 h / +6 h', 6, 6), zoom('−24 h / +48 h', 24, 48), zoom('−3 d / +7 d', 72, 168)), box, detail, h('p', { class: 'muted' }, 'The past comes from the history, the future from the window schedules.'));
}

/** The API route of one invocation's full output (served as text/plain; the session cookie opens it). */
function outputHref(execution: string, task: string, instance: string): string {
  return `/v1/executions/${encodeURIComponent(execution)}/tasks/${encodeURIComponent(task)}/invocations/${encodeURIComponent(instance)}/output`;
}

async function executions(): Promise<Node> {
  if (state.execution !== null) {
    const e = (await api('GET', `/v1/executions/${encodeURIComponent(state.execution)}`)) as unknown as Omit<ExecutionRow, 'tasks'> & { id: string; status: string; tasks: { name: string; status: string; detail: string; invocations: { instance: string; status: string; exitCode: number | null; outOfService: boolean; drained: boolean; startedAt: string; endedAt: string | null; output: string | null; outputKey: string | null }[] }[] };
    // Who was out of service when: the rolling batches, drawn by the shared timeline renderer (now: the controller's).
    const now = Date.parse(((await api('GET', '/v1/status')) as unknown as StatusJson).at);
    const outage = h('div', { class: 'timeline-box', id: 'exec-outage' });
    const hasInvocations = e.tasks.some((t) => t.invocations.length > 0);
    if (hasInvocations) outage.innerHTML = renderTimeline({ ...outageInput(e, now), width: 1200, focusable: true }); // escaped by the renderer
    const outageDetail = h('p', { id: 'exec-outage-detail', 'aria-live': 'polite' }, hasInvocations ? 'Hover or focus (Tab) a bar for its task and outcome.' : 'No invocation yet.');
    const show = (ev: Event): void => {
      const t = (ev.target as Element).closest('g[tabindex]')?.querySelector('title')?.textContent;
      if (t) outageDetail.textContent = t;
    };
    outage.addEventListener('focusin', show);
    outage.addEventListener('mouseover', show);
    return h(
      'div',
      {},
      h('button', { type: 'button', id: 'exec-back', click: () => ((state.execution = null), void refresh(false)) }, '← All executions'),
      h('h2', {}, `${e.group} / ${e.window} — ${e.status}`),
      h('p', {}, `${e.start} → ${e.end}`),
      h('h3', {}, 'Out of service'),
      outage,
      outageDetail,
      ...e.tasks.map((t) =>
        h(
          'section',
          { class: 'card' },
          h('h3', {}, `${t.name}: ${t.status}`),
          h('p', { class: 'muted' }, t.detail),
          table(
            ['instance', 'status', 'exit', 'out of service', 'started', 'ended', 'output'],
            t.invocations.map((i) => [i.instance, i.status, i.exitCode === null ? '' : String(i.exitCode), i.outOfService ? 'yes' : 'no', i.startedAt, i.endedAt ?? '', h('div', {}, i.output === null ? '' : h('pre', {}, i.output.slice(0, 2000)), i.outputKey === null ? null : h('a', { href: outputHref(e.id, t.name, i.instance), target: '_blank', rel: 'noopener', class: 'full-output', title: i.outputKey }, 'Full output'))]),
          ),
        ),
      ),
    );
  }
  const list = (await api('GET', '/v1/executions?limit=50')) as unknown as { executions: { id: string; group: string; window: string; status: string; start: string; tasks: { name: string; status: string; succeeded: number; failed: number; outOfService: string[] }[] }[] };
  if (list.executions.length === 0) return h('p', {}, 'No maintenance executions yet.');
  return table(
    ['start', 'group', 'window', 'status', 'tasks', ''],
    list.executions.map((e) => [e.start, e.group, e.window, e.status, e.tasks.map((t) => `${t.name} ${t.status} (${t.succeeded} ok, ${t.failed} failed)`).join('; '), h('button', { type: 'button', click: () => ((state.execution = e.id), void refresh(false)) }, 'Details')]),
  );
}

async function overrides(): Promise<Node> {
  const [o, c, status] = await Promise.all([api('GET', '/v1/overrides'), api('GET', '/v1/controls'), api('GET', '/v1/status')]);
  const list = (o as unknown as { overrides: { group: string; key: string; value: string; expiresAt: string; reason: string }[] }).overrides;
  const controls = (c as unknown as { controls: { instance: string; kind: string; until: string; reason: string }[] }).controls;
  const groups = (status as unknown as StatusJson).groups.map((g) => g.group);
  const admin = session?.role === 'admin';
  const rows = list.map((x) => [x.group, x.key, x.value, x.expiresAt, x.reason, admin ? h('button', { type: 'button', click: () => void api('DELETE', `/v1/groups/${encodeURIComponent(x.group)}/overrides/${encodeURIComponent(x.key)}`).then(() => refresh(false)) }, `Remove ${x.key}`) : '']);
  return h(
    'div',
    {},
    admin ? overrideForm(groups) : h('p', { class: 'muted' }, 'Read only: a viewer cannot set or remove overrides.'),
    h('h2', {}, 'Overrides in force'),
    list.length === 0 ? h('p', { id: 'no-overrides' }, 'None.') : table(['group', 'key', 'value', 'expires', 'reason', ''], rows),
    h('h2', {}, 'Instance controls'),
    controls.length === 0 ? h('p', {}, 'None.') : table(['instance', 'kind', 'until', 'reason', ''], controls.map((x) => [x.instance, x.kind, x.until, x.reason, admin ? h('button', { type: 'button', click: () => void api('DELETE', `/v1/instances/${encodeURIComponent(x.instance)}/controls/${encodeURIComponent(x.kind)}`).then(() => refresh(false)) }, `Lift ${x.kind}`) : ''])),
  );
}

/** The set-override form: each field's error from the API is shown next to it. */
function overrideForm(groups: string[]): HTMLElement {
  const field = (name: string, label: string, input: HTMLElement): HTMLElement => {
    input.id = `ov-${name}`;
    input.setAttribute('name', name);
    input.setAttribute('aria-describedby', `ov-${name}-error`);
    return h('label', {}, label, input, h('span', { class: 'field-error', id: `ov-${name}-error` }));
  };
  const formError = h('p', { class: 'form-error', role: 'alert', id: 'ov-error' });
  const form = h(
    'form',
    {
      class: 'grid',
      id: 'override-form',
      'aria-label': 'Set an override',
      submit: (e) => {
        e.preventDefault();
        const f = e.target as HTMLFormElement;
        const v = (n: string): string => (f.elements.namedItem(n) as HTMLInputElement).value;
        for (const el of f.querySelectorAll('.field-error')) el.textContent = '';
        for (const el of f.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
        formError.textContent = '';
        api('PUT', `/v1/groups/${encodeURIComponent(v('group'))}/overrides/${encodeURIComponent(v('key'))}`, { value: v('value'), ttl: v('ttl'), reason: v('reason') }).then(
          () => {
            f.reset();
            (document.activeElement as HTMLElement | null)?.blur();
            void refresh(false);
          },
          (x: unknown) => {
            if (!isApiError(x)) return void (formError.textContent = String(x));
            const unplaced: string[] = [];
            for (const fe of x.fields) {
              const name = fe.field.split('.')[0] ?? fe.field;
              const slot = f.querySelector(`#ov-${CSS.escape(name)}-error`);
              if (slot === null) unplaced.push(`${fe.field}: ${fe.reason}`);
              else {
                slot.textContent = fe.reason;
                f.querySelector(`#ov-${CSS.escape(name)}`)?.setAttribute('aria-invalid', 'true');
              }
            }
            formError.textContent = x.fields.length === 0 ? x.message : unplaced.join('; ');
          },
        );
      },
    },
    field('group', 'Group', h('select', {}, ...groups.map((g) => h('option', { value: g }, g)))),
    field('key', 'Setting', h('input', { required: true, placeholder: 'fleets.main.desired', list: 'keys' })),
    field('value', 'Value', h('input', { required: true })),
    field('ttl', 'For (TTL)', h('input', { required: true, value: '1h', placeholder: '30m, 4h, 2d' })),
    field('reason', 'Reason', h('input', { required: true })),
    h('div', {}, h('button', { type: 'submit', id: 'ov-submit' }, 'Set override'), formError),
  );
  return form;
}

async function history(): Promise<Node> {
  const prev = document.getElementById('hist-form') as HTMLFormElement | null;
  const val = (n: string): string => ((prev?.elements.namedItem(n) as HTMLInputElement | null)?.value ?? '').trim();
  const f = { group: val('group'), instance: val('instance'), type: val('type'), from: val('from'), to: val('to') };
  const before = state.historyBefore.at(-1) ?? null;
  // Every filter is the API's (applied in the store's query), so each page is full and paging on stays right.
  const q = new URLSearchParams({ limit: '100', ...(f.group ? { group: f.group } : {}), ...(f.instance ? { instance: f.instance } : {}), ...(f.type ? { type: f.type } : {}), ...(f.from ? { from: f.from } : {}), ...(f.to ? { to: f.to } : {}), ...(before === null ? {} : { before: String(before) }) });
  type Page = { entries: { id?: number; at: string; group: string; instance: string | null; type: string; summary: string }[]; next: number | null };
  const formError = h('p', { class: 'form-error', role: 'alert', id: 'hist-error' });
  let hist: Page = { entries: [], next: null };
  try {
    hist = (await api('GET', `/v1/history?${q.toString()}`)) as unknown as Page;
  } catch (x) {
    // A bad filter (400) is shown beside the form, naming the field; anything else is the page's error.
    if (!isApiError(x) || x.status !== 400) throw x;
    formError.textContent = x.fields.length === 0 ? x.message : x.fields.map((fe) => `${fe.field}: ${fe.reason}`).join('; ');
  }
  state.historyNext = hist.next;
  const entries = hist.entries;
  const input = (name: string, label: string, value: string, placeholder = ''): HTMLElement => h('label', {}, label, h('input', { name, id: `hist-${name}`, value, placeholder }));
  const form = h(
    'form',
    { class: 'toolbar', id: 'hist-form', 'aria-label': 'History filters', submit: (e) => ((e.preventDefault(), (state.historyBefore = [])), void refresh(false)) },
    input('group', 'Group', f.group),
    input('instance', 'Instance', f.instance),
    input('type', 'Type', f.type, 'transition, override, …'),
    input('from', 'From (ISO)', f.from),
    input('to', 'To (ISO)', f.to),
    h('button', { type: 'submit' }, 'Filter'),
    formError,
  );
  const pager = h(
    'div',
    { class: 'toolbar' },
    h('button', { type: 'button', disabled: state.historyBefore.length === 0, click: () => (state.historyBefore.pop(), void refresh(false)) }, 'Newer'),
    h('button', { type: 'button', disabled: hist.next === null || hist.entries.length < 100, click: () => (state.historyBefore.push(state.historyNext), void refresh(false)) }, 'Older'),
  );
  return h('div', {}, form, table(['at', 'group', 'instance', 'type', 'what'], entries.map((e) => [e.at, e.group, e.instance ?? '', e.type, e.summary])), pager);
}

void start();
