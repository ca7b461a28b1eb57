/* zpanel dashboard: plain modern JavaScript, no framework, no build step. The API under
 * /api/v1 is its only backend: a cookie session from POST /login, the CSRF token (the
 * zp_csrf cookie) repeated in X-CSRF-Token on every mutation, live state over server-sent
 * events (GET /events, job logs, followed container logs). Pages live behind the hash:
 * #/ projects, #/new, #/p/NAME, #/admin, #/login. */
'use strict';

const state = { me: null, snapshot: null, events: null, cleanups: [] };

/* ---- small helpers ---- */

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)zp_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}

class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error;
    super(e ? e.message : 'HTTP ' + status);
    this.status = status;
    this.code = e ? e.code : '';
    this.details = e && Array.isArray(e.details) ? e.details : [];
  }
}

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') opt.headers['X-CSRF-Token'] = csrf();
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  const r = await fetch('/api/v1' + path, opt);
  const type = r.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await r.json() : await r.text();
  if (r.status === 401 && path !== '/login') {
    state.me = null;
    navigate('#/login');
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.textContent = ''; }, 6000);
}

function bytes(n) {
  if (n === undefined || n === null) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(n < 10 ? 2 : 1) : n) + ' ' + u[i];
}

function when(v) {
  if (!v) return '–';
  const d = typeof v === 'number' ? new Date(v > 1e12 ? v : v * 1000) : new Date(v);
  return d.toLocaleString();
}

/* a state word with its class: words and symbols tell the state, colour only helps */
function stateText(word) {
  const ok = ['healthy', 'running', 'succeeded'];
  const bad = ['unhealthy', 'exited', 'failed', 'dead', 'restarting', 'not running', 'cancelled'];
  const cls = ok.includes(word) ? 'state-ok' : bad.includes(word) ? 'state-bad' : 'state-warn';
  return h('span', { class: 'state ' + cls }, word);
}

function table(headers, rows, caption) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', { class: 'muted' }, caption) : null,
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, r.map((c, i) => h('td', { 'data-label': headers[i] }, h('div', {}, c)))))
        : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'None yet.')))));
}

function busy(button, fn) {
  return async (ev) => {
    if (ev) ev.preventDefault();
    button.disabled = true;
    try { await fn(); } catch (e) { toast(e.message); } finally { button.disabled = false; }
  };
}

/* ---- pages and navigation ---- */

function navigate(hash) {
  if (location.hash !== hash) location.hash = hash;
  else render();
}

function page(title, ...kids) {
  for (const c of state.cleanups.splice(0)) c();
  document.title = title + ' · zpanel';
  const main = document.getElementById('main');
  main.replaceChildren(h('h1', { tabindex: '-1', id: 'page-title' }, title), ...kids);
  document.getElementById('page-title').focus({ preventScroll: true });
  return main;
}

function renderNav() {
  const nav = document.getElementById('nav');
  if (!state.me) { nav.replaceChildren(); return; }
  const out = h('button', { type: 'button', class: 'secondary' }, 'Sign out');
  out.addEventListener('click', busy(out, async () => {
    await api('POST', '/logout');
    state.me = null;
    stopEvents();
    navigate('#/login');
  }));
  nav.replaceChildren(
    h('a', { href: '#/' }, 'Projects'),
    state.me.role === 'admin' ? h('a', { href: '#/admin' }, 'Admin') : null,
    h('span', { class: 'spacer' }),
    h('span', { class: 'who' }, `${state.me.user} (${state.me.role})`),
    out);
}

async function render() {
  const hash = location.hash || '#/';
  if (!state.me && hash !== '#/login') {
    try { state.me = await api('GET', '/me'); } catch (e) { if (e.status !== 401) toast(e.message); return; }
  }
  renderNav();
  if (hash === '#/login') return loginPage();
  if (hash === '#/new') return newProjectPage();
  if (hash === '#/admin') return adminPage();
  const m = hash.match(/^#\/p\/([a-z0-9][a-z0-9_-]*)$/);
  if (m) return projectPage(m[1]);
  return projectsPage();
}

/* ---- live state: one EventSource for the project snapshots ---- */

const listeners = new Set();

function startEvents() {
  if (state.events) return;
  const es = new EventSource('/api/v1/events');
  state.events = es;
  es.addEventListener('projects', (e) => {
    state.snapshot = JSON.parse(e.data).projects;
    for (const fn of listeners) fn(state.snapshot, true);
  });
  es.onerror = () => {
    for (const fn of listeners) fn(state.snapshot, false);
    if (es.readyState === EventSource.CLOSED && state.events === es) {
      // refused (the session ended?): /me sends us to sign in, or we try again
      state.events = null;
      api('GET', '/me').then(() => setTimeout(startEvents, 2000), () => {});
    }
  };
}

function stopEvents() {
  if (state.events) state.events.close();
  state.events = null;
  state.snapshot = null;
}

function onSnapshot(fn) {
  startEvents();
  listeners.add(fn);
  state.cleanups.push(() => listeners.delete(fn));
  if (state.snapshot) fn(state.snapshot, true);
}

/* ---- sign in ---- */

function loginPage() {
  stopEvents();
  const err = h('p', { class: 'errors', role: 'alert' });
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true });
  const pw = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'form card' },
    h('label', { for: 'login-user' }, 'Username'), user,
    h('label', { for: 'login-password' }, 'Password'), pw,
    h('div', { class: 'actions' }, btn), err);
  form.addEventListener('submit', busy(btn, async () => {
    err.textContent = '';
    try {
      await api('POST', '/login', { user: user.value, password: pw.value });
      state.me = await api('GET', '/me');
      navigate('#/');
    } catch (e) {
      err.textContent = e.status === 401 ? 'Wrong user name or password.' : e.message;
      pw.focus();
    }
  }));
  page('Sign in', form);
  user.focus();
}

/* ---- projects ---- */

function health(p) {
  if (p.engine_error) return [h('span', { class: 'state state-bad' }, 'engine unavailable')];
  const cs = p.containers || [];
  if (!cs.length) return [h('span', { class: 'muted' }, 'not deployed')];
  return cs.map((c) => h('div', {}, `${c.service}: `, stateText(c.verdict)));
}

function usage(p) {
  const cs = (p.containers || []).filter((c) => c.cpu_percent !== undefined);
  if (!cs.length) return ['–', '–'];
  const cpu = cs.reduce((a, c) => a + c.cpu_percent, 0);
  const mem = cs.reduce((a, c) => a + c.mem_used, 0);
  return [cpu.toFixed(1) + ' %', bytes(mem)];
}

function routes(p) {
  const rs = p.routes || [];
  if (!rs.length) return '–';
  return rs.map((r) => h('div', {}, r.hosts.map((x) => x + (r.paths.length ? r.paths.join(',') : '')).join(', ')));
}

function lastJob(j) {
  if (!j) return h('span', { class: 'muted' }, 'none');
  return h('span', {}, `${j.kind} `, stateText(j.status), ` ${when(j.finished || j.started || j.created)}`);
}

function projectsPage() {
  const live = h('p', { class: 'live', role: 'status' }, 'Connecting…');
  const holder = h('div', {}, h('p', { class: 'muted' }, 'Loading projects…'));
  page('Projects', h('div', { class: 'toolbar' }, h('a', { class: 'button', href: '#/new' }, 'New project'), live), holder);
  onSnapshot((ps, ok) => {
    live.textContent = ok ? 'Live: updates arrive as they happen.' : 'Reconnecting…';
    if (!ps) return;
    holder.replaceChildren(table(
      ['Project', 'Services', 'Health', 'CPU', 'Memory', 'Routes', 'Last deployment'],
      ps.map((p) => {
        const [cpu, mem] = usage(p);
        return [h('a', { href: '#/p/' + p.name }, p.name), p.services.join(', ') || '–', health(p), cpu, mem, routes(p), lastJob(p.last_job)];
      })));
  });
}

/* ---- new project ---- */

function envText(env) {
  return Object.entries(env || {}).map(([k, v]) => `${k}=${v}`).join('\n');
}

function parseEnv(text) {
  const env = {};
  text.split('\n').forEach((line, i) => {
    const l = line.trim();
    if (!l || l.startsWith('#')) return;
    const eq = l.indexOf('=');
    if (eq <= 0) throw new Error(`Environment line ${i + 1}: expected KEY=VALUE`);
    env[l.slice(0, eq).trim()] = l.slice(eq + 1);
  });
  return env;
}

/* the compose file's errors under its field, each naming its line and column; choosing one
 * selects that line in the text */
function showComposeErrors(box, area, e) {
  box.replaceChildren();
  area.removeAttribute('aria-invalid');
  if (!e) return;
  if (!e.details.length) { box.append(h('p', {}, e.message)); return; }
  area.setAttribute('aria-invalid', 'true');
  box.append(h('p', {}, e.message + ':'), h('ul', {}, e.details.map((d) => {
    const at = `${d.file || 'compose.yaml'}:${d.line}:${d.column}`;
    const b = h('button', { type: 'button', class: 'link' }, `Line ${d.line}, column ${d.column} (${at}): ${d.message}`);
    b.addEventListener('click', () => selectLine(area, d.line));
    return h('li', {}, b);
  })));
}

function selectLine(area, line) {
  const lines = area.value.split('\n');
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
  area.focus();
  area.setSelectionRange(start, start + (lines[line - 1] || '').length);
}

function composeFields(prefix, compose, env, envHint) {
  const area = h('textarea', { id: prefix + '-compose', rows: 14, spellcheck: 'false', 'aria-describedby': prefix + '-compose-errors', required: true });
  area.value = compose || '';
  const upload = h('input', { id: prefix + '-upload', type: 'file', accept: '.yaml,.yml,text/yaml' });
  upload.addEventListener('change', async () => { if (upload.files[0]) area.value = await upload.files[0].text(); });
  const errors = h('div', { id: prefix + '-compose-errors', class: 'errors', role: 'alert' });
  const envArea = h('textarea', { id: prefix + '-env', rows: 4, spellcheck: 'false', 'aria-describedby': prefix + '-env-hint' });
  envArea.value = env || '';
  const nodes = [
    h('label', { for: prefix + '-compose' }, 'Compose file'), area,
    h('label', { for: prefix + '-upload', class: 'hint' }, 'Or upload a compose file'), upload,
    errors,
    h('label', { for: prefix + '-env' }, 'Environment'), envArea,
    h('p', { class: 'hint', id: prefix + '-env-hint' }, envHint)];
  return { area, errors, envArea, nodes };
}

function newProjectPage() {
  const name = h('input', { id: 'new-name', required: true, pattern: '[a-z0-9][a-z0-9_\\-]*', 'aria-describedby': 'new-name-hint', autocomplete: 'off' });
  const f = composeFields('new', '', '', 'One KEY=VALUE per line; values are encrypted at rest and never shown again.');
  const err = h('p', { class: 'errors', role: 'alert' });
  const btn = h('button', { type: 'submit' }, 'Create');
  const form = h('form', { class: 'form' },
    h('label', { for: 'new-name' }, 'Name'), name,
    h('p', { class: 'hint', id: 'new-name-hint' }, 'Lowercase letters, digits, "-" and "_".'),
    ...f.nodes, h('div', { class: 'actions' }, btn), err);
  form.addEventListener('submit', busy(btn, async () => {
    err.textContent = '';
    showComposeErrors(f.errors, f.area, null);
    let env;
    try { env = parseEnv(f.envArea.value); } catch (e) { err.textContent = e.message; return; }
    try {
      await api('POST', '/projects', { name: name.value, compose: f.area.value, env });
      toast(`Project ${name.value} created.`);
      navigate('#/p/' + name.value);
    } catch (e) {
      if (e.status === 422) { showComposeErrors(f.errors, f.area, e); f.errors.querySelector('button')?.focus(); } else err.textContent = e.message;
    }
  }));
  page('New project', form);
}

/* ---- one project ---- */

function projectPage(name) {
  const base = '/projects/' + name;
  const summary = h('p', { class: 'live', role: 'status' }, 'Connecting…');
  const services = h('div', {});
  const jobStatus = h('p', { id: 'job-status' }, 'No deployment yet.');
  const log = h('pre', { class: 'log', role: 'log', 'aria-label': 'Deployment log', 'aria-live': 'polite', tabindex: '0' });
  const cancel = h('button', { type: 'button', class: 'danger', disabled: true }, 'Cancel deployment');
  const releases = h('div', {});
  const healthBox = h('div', {});
  const backups = h('div', {});
  let jobStream = null;
  let currentJob = null;
  state.cleanups.push(() => { if (jobStream) jobStream.close(); });

  function followJob(job) {
    if (jobStream) jobStream.close();
    currentJob = job;
    log.textContent = '';
    const show = (status) => {
      jobStatus.replaceChildren(`Job ${job.id} (${job.kind}): `, stateText(status));
      cancel.disabled = !(status === 'queued' || status === 'running');
    };
    show(job.status);
    jobStream = new EventSource(`/api/v1/jobs/${job.id}/log`);
    jobStream.onopen = () => { if (job.status === 'queued') show('running'); };
    let lastId = 0; // a reconnected stream replays from the first line: skip what we have
    jobStream.onmessage = (e) => {
      const id = Number(e.lastEventId);
      if (id && id <= lastId) return;
      lastId = id || lastId;
      log.append(e.data + '\n');
      log.scrollTop = log.scrollHeight;
    };
    jobStream.addEventListener('end', (e) => {
      jobStream.close();
      jobStream = null;
      show(e.data);
      loadReleases();
      if (job.kind === 'backup' || job.kind === 'restore') loadBackups();
    });
  }

  async function act(kind, body) {
    const r = await api('POST', `${base}/${kind}`, body);
    toast(`${kind} queued (job ${r.job.id}).`);
    followJob(r.job);
  }

  const actions = h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Actions' });
  for (const [label, kind, cls] of [['Deploy', 'deploy', ''], ['Stop', 'stop', 'secondary'], ['Start', 'start', 'secondary'], ['Restart', 'restart', 'secondary'], ['Rollback', 'rollback', 'secondary']]) {
    const b = h('button', { type: 'button', class: cls || null }, label);
    b.addEventListener('click', busy(b, () => act(kind)));
    actions.append(b);
  }
  cancel.addEventListener('click', busy(cancel, async () => {
    if (!currentJob) return;
    await api('POST', `/jobs/${currentJob.id}/cancel`);
    toast(`Cancelling job ${currentJob.id}.`);
  }));
  actions.append(cancel);

  async function loadReleases() {
    const r = await api('GET', `${base}/releases`);
    const rows = r.releases.slice().sort((a, b) => b.id - a.id).map((x) => {
      const b = h('button', { type: 'button', class: 'secondary', 'aria-label': `Roll back to release ${x.id}` }, 'Roll back to this');
      b.addEventListener('click', busy(b, () => act('rollback', { release: x.id })));
      const source = x.kind === 'rollback' && x.source ? ` (of release ${x.source})` : '';
      return [String(x.id), when(x.created), x.kind + source, x.status, x.services.map((s) => `${s.service}: ${s.image}`).join(', '),
        x.status === 'deployed' ? h('span', { class: 'muted' }, 'running now') : b];
    });
    releases.replaceChildren(table(['Release', 'Created', 'Kind', 'Status', 'Images', 'Action'], rows));
  }

  async function loadHealth() {
    const r = await api('GET', `${base}/health`);
    healthBox.replaceChildren(table(['Service', 'Container', 'State', 'Why', 'Exit code', 'OOM-killed', 'Restarts'],
      r.containers.map((c) => [c.service, c.name || '–', stateText(c.verdict),
        c.reason || (c.health_output ? 'last probe: ' + c.health_output : 'passing'),
        String(c.exit_code), c.oom_killed ? 'yes' : 'no', String(c.restart_count)])));
  }

  const dialog = h('dialog', { 'aria-labelledby': 'restore-title' });
  async function loadBackups() {
    const r = await api('GET', `${base}/backups`);
    backups.replaceChildren(table(['Backup', 'Size', 'Created', 'Download', 'Restore'], r.backups.map((b) => {
      const restore = h('button', { type: 'button', class: 'danger', 'aria-label': `Restore ${b.name}` }, 'Restore');
      restore.addEventListener('click', () => confirmRestore(b.name, r.restore_replaces, r.restore_services));
      return [b.name, bytes(b.size), when(b.created),
        h('a', { href: `/api/v1${base}/backups/${encodeURIComponent(b.name)}`, download: b.name, 'aria-label': `Download ${b.name}` }, 'Download'), restore];
    })));
  }

  function confirmRestore(file, volumes, svcs) {
    const go = h('button', { type: 'button', class: 'danger' }, 'Restore now');
    const no = h('button', { type: 'button', class: 'secondary' }, 'Keep current data');
    const what = volumes.length ? volumes.map((v) => `volume "${v}"`).join(', ') : 'no volume';
    dialog.replaceChildren(
      h('h2', { id: 'restore-title' }, `Restore ${file}?`),
      h('p', {}, `This replaces the current content of ${what} of project ${name} with the backup's.`),
      svcs.length ? h('p', {}, `The services using it (${svcs.join(', ')}) are stopped and started again.`) : null,
      h('p', {}, 'What is in those volumes now is lost.'),
      h('div', { class: 'toolbar' }, go, no));
    no.addEventListener('click', () => dialog.close());
    go.addEventListener('click', busy(go, async () => { dialog.close(); await act('restore', { backup: file }); }));
    dialog.showModal();
    no.focus();
  }

  const backupNow = h('button', { type: 'button' }, 'Back up now');
  backupNow.addEventListener('click', busy(backupNow, () => act('backup')));

  /* container logs */
  const svcSelect = h('select', { id: 'logs-service' }, h('option', { value: '' }, 'All services'));
  const tail = h('input', { id: 'logs-tail', type: 'number', min: '0', max: '100000', value: '100', size: 6 });
  const follow = h('input', { id: 'logs-follow', type: 'checkbox' });
  const showLogs = h('button', { type: 'button', class: 'secondary' }, 'Show logs');
  const clog = h('pre', { class: 'log', role: 'log', 'aria-label': 'Container logs', tabindex: '0' });
  let logStream = null;
  state.cleanups.push(() => { if (logStream) logStream.close(); });
  showLogs.addEventListener('click', busy(showLogs, async () => {
    if (logStream) { logStream.close(); logStream = null; }
    const q = new URLSearchParams({ tail: tail.value || '100' });
    if (svcSelect.value) q.set('service', svcSelect.value);
    clog.textContent = '';
    if (follow.checked) {
      q.set('follow', 'true');
      logStream = new EventSource(`/api/v1${base}/logs?${q}`);
      logStream.onmessage = (e) => { clog.append(e.data + '\n'); clog.scrollTop = clog.scrollHeight; };
    } else {
      clog.textContent = await api('GET', `${base}/logs?${q}`);
    }
  }));

  /* edit */
  const save = h('button', { type: 'submit' }, 'Save');
  const saveErr = h('p', { class: 'errors', role: 'alert' });
  let edit = null;
  const editForm = h('form', { class: 'form' });

  const refreshHealth = h('button', { type: 'button', class: 'secondary' }, 'Check health');
  refreshHealth.addEventListener('click', busy(refreshHealth, loadHealth));

  page(name,
    summary, actions,
    h('section', { 'aria-labelledby': 'h-services' }, h('h2', { id: 'h-services' }, 'Services'), services),
    h('section', { 'aria-labelledby': 'h-log' }, h('h2', { id: 'h-log' }, 'Deployment log'), jobStatus, log),
    h('section', { 'aria-labelledby': 'h-health' }, h('h2', { id: 'h-health' }, 'Health'), refreshHealth, healthBox),
    h('section', { 'aria-labelledby': 'h-releases' }, h('h2', { id: 'h-releases' }, 'Releases'), releases),
    h('section', { 'aria-labelledby': 'h-logs' }, h('h2', { id: 'h-logs' }, 'Container logs'),
      h('div', { class: 'toolbar' },
        h('label', { for: 'logs-service', class: 'inline' }, 'Service'), svcSelect,
        h('label', { for: 'logs-tail', class: 'inline' }, 'Last lines'), tail,
        h('span', {}, follow, ' ', h('label', { for: 'logs-follow', class: 'inline' }, 'Follow')), showLogs), clog),
    h('section', { 'aria-labelledby': 'h-backups' }, h('h2', { id: 'h-backups' }, 'Backups'), backupNow, backups),
    h('section', { 'aria-labelledby': 'h-edit' }, h('h2', { id: 'h-edit' }, 'Compose file and environment'), editForm),
    dialog);

  let first = true;
  onSnapshot((ps, ok) => {
    const p = ps && ps.find((x) => x.name === name);
    summary.textContent = !ok ? 'Reconnecting…' : p ? 'Live: updates arrive as they happen.' : 'Loading…';
    if (!p) return;
    services.replaceChildren(table(['Service', 'Container', 'State', 'CPU', 'Memory'],
      (p.containers || []).map((c) => [c.service, c.name || '–', stateText(c.verdict),
        c.cpu_percent !== undefined ? c.cpu_percent.toFixed(1) + ' %' : '–', c.mem_used !== undefined ? bytes(c.mem_used) : '–'])));
    if (svcSelect.options.length === 1) for (const s of p.services) svcSelect.append(h('option', { value: s }, s));
    if (first && p.last_job) followJob(p.last_job);
    else if (p.last_job && (!currentJob || p.last_job.id > currentJob.id)) followJob(p.last_job);
    first = false;
  });

  (async () => {
    try {
      const p = await api('GET', base);
      edit = composeFields('edit', p.compose, envText(p.env), 'Secret values show masked: leave a masked line as it is to keep its value.');
      editForm.replaceChildren(...edit.nodes, h('div', { class: 'actions' }, save), saveErr);
      const original = edit.envArea.value;
      editForm.addEventListener('submit', busy(save, async () => {
        saveErr.textContent = '';
        showComposeErrors(edit.errors, edit.area, null);
        const body = { compose: edit.area.value };
        try {
          if (edit.envArea.value !== original) {
            const env = parseEnv(edit.envArea.value);
            const old = p.env || {};
            for (const k of Object.keys(env)) if (env[k] === old[k] && /^\*+$/.test(env[k])) throw new Error(`Environment: give ${k} its value again (it is masked) or remove the line`);
            body.env = env;
          }
        } catch (e) { saveErr.textContent = e.message; return; }
        try {
          await api('PUT', base, body);
          toast('Saved. Deploy to apply it.');
        } catch (e) {
          if (e.status === 422) showComposeErrors(edit.errors, edit.area, e); else saveErr.textContent = e.message;
        }
      }));
      await Promise.all([loadReleases(), loadBackups(), loadHealth()]);
    } catch (e) {
      if (e.status === 404) summary.textContent = `There is no project ${name}.`;
      else toast(e.message);
    }
  })();
}

/* ---- admin ---- */

function adminPage() {
  const users = h('div', {});
  const tokens = h('div', {});
  const proxy = h('div', {});
  const audit = h('div', {});
  const newToken = h('div', { role: 'status' });

  async function loadUsers() {
    const r = await api('GET', '/users');
    users.replaceChildren(table(['User', 'Role', 'Created', 'Action'], r.users.map((u) => {
      const b = h('button', { type: 'button', class: 'danger', 'aria-label': `Remove user ${u.name}` }, 'Remove');
      b.addEventListener('click', busy(b, async () => {
        if (!confirm(`Remove user ${u.name} and revoke their tokens and sessions?`)) return;
        await api('DELETE', '/users/' + encodeURIComponent(u.name));
        await Promise.all([loadUsers(), loadTokens()]);
      }));
      return [u.name, u.role, when(u.created), u.name === state.me.user ? h('span', { class: 'muted' }, 'you') : b];
    })));
  }

  async function loadAudit() {
    const r = await api('GET', '/audit?limit=100');
    audit.replaceChildren(table(['When', 'User', 'Request', 'Status', 'From'],
      r.audit.map((a) => [when(a.time), a.user || '–', `${a.method} ${a.path}`, String(a.status), a.remote || '–'])));
  }

  async function loadTokens() {
    const r = await api('GET', '/tokens');
    tokens.replaceChildren(table(['Id', 'User', 'Scope', 'Created', 'Expires', 'Action'], r.tokens.map((t) => {
      const b = h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke token ${t.id}` }, 'Revoke');
      b.addEventListener('click', busy(b, async () => {
        await api('DELETE', '/tokens/' + t.id);
        newToken.replaceChildren(); // a token shown once and now revoked is of no use
        await Promise.all([loadTokens(), loadAudit()]);
      }));
      return [String(t.id), t.user, t.scope, when(t.created), t.expires ? when(t.expires) : 'never', t.current ? h('span', { class: 'muted' }, 'this session') : b];
    })));
  }

  const uName = h('input', { id: 'user-name', autocomplete: 'off', required: true });
  const uRole = h('select', { id: 'user-role' }, ['viewer', 'member', 'admin'].map((x) => h('option', { value: x }, x)));
  const uPw = h('input', { id: 'user-password', type: 'password', autocomplete: 'new-password', minlength: 8, required: true });
  const uBtn = h('button', { type: 'submit' }, 'Add user');
  const uForm = h('form', { class: 'form' }, h('h3', {}, 'Add a user'),
    h('label', { for: 'user-name' }, 'New user name'), uName, h('label', { for: 'user-role' }, 'Role'), uRole,
    h('label', { for: 'user-password' }, 'New user password'), uPw, h('div', { class: 'actions' }, uBtn));
  uForm.addEventListener('submit', busy(uBtn, async () => {
    await api('POST', '/users', { name: uName.value, role: uRole.value, password: uPw.value });
    toast(`User ${uName.value} added.`);
    uForm.reset();
    await Promise.all([loadUsers(), loadAudit()]);
  }));

  const tUser = h('input', { id: 'token-user', autocomplete: 'off', required: true, value: state.me.user });
  const tScope = h('select', { id: 'token-scope' }, ['read', 'deploy', 'write', 'admin'].map((x) => h('option', { value: x }, x)));
  const tExp = h('input', { id: 'token-expires', placeholder: '30d', size: 8 });
  const tBtn = h('button', { type: 'submit' }, 'Create token');
  const tForm = h('form', { class: 'form' }, h('h3', {}, 'Create an API token'),
    h('label', { for: 'token-user' }, 'Token owner'), tUser, h('label', { for: 'token-scope' }, 'Scope'), tScope,
    h('label', { for: 'token-expires' }, 'Expires in (empty: never)'), tExp, h('div', { class: 'actions' }, tBtn), newToken);
  tForm.addEventListener('submit', busy(tBtn, async () => {
    const r = await api('POST', '/tokens', { user: tUser.value, scope: tScope.value, expires_in: tExp.value });
    newToken.replaceChildren(h('p', {}, 'Copy this token now; it is not shown again:'), h('p', { class: 'token' }, r.token));
    await Promise.all([loadTokens(), loadAudit()]);
  }));

  page('Admin',
    h('section', { 'aria-labelledby': 'h-users' }, h('h2', { id: 'h-users' }, 'Users'), users, uForm),
    h('section', { 'aria-labelledby': 'h-tokens' }, h('h2', { id: 'h-tokens' }, 'API tokens and sessions'), tokens, tForm),
    h('section', { 'aria-labelledby': 'h-proxy' }, h('h2', { id: 'h-proxy' }, 'Proxy routes'), proxy),
    h('section', { 'aria-labelledby': 'h-audit' }, h('h2', { id: 'h-audit' }, 'Audit log'), audit));

  (async () => {
    try {
      await Promise.all([loadUsers(), loadTokens(), (async () => {
        const r = await api('GET', '/proxy/routes');
        proxy.replaceChildren(r.running ? (r.routes.length ? h('ul', {}, r.routes.map((x) => h('li', {}, x))) : h('p', { class: 'muted' }, 'The proxy serves no route.'))
          : h('p', { class: 'muted' }, r.message || 'The proxy is not running.'));
      })(), loadAudit()]);
    } catch (e) { toast(e.message); }
  })();
}

window.addEventListener('hashchange', render);
document.addEventListener('DOMContentLoaded', render);
