// dashboard.test.js: zpanel's dashboard in Debian's chromium (playwright-core), against a
// running `zpanel serve` and the real engine; run by tests/e2e/test_dashboard.sh, which sets
// DASH_URL, DASH_USER, DASH_PASSWORD, DASH_PROJECT, DASH_IMAGE, DASH_OUT and CHROMIUM.
// Every page is checked with axe-core (no serious or critical violation) and saved as a
// screenshot in DASH_OUT. Exits 0 when every check passed, 1 otherwise.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { chromium } = require('playwright-core');

const URL = process.env.DASH_URL;
const USER = process.env.DASH_USER;
const PASSWORD = process.env.DASH_PASSWORD;
const P = process.env.DASH_PROJECT;
const IMAGE = process.env.DASH_IMAGE;
const OUT = process.env.DASH_OUT;
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let failures = 0;
let passes = 0;
const t0 = Date.now();
function check(cond, what) {
  if (cond) passes++;
  else { failures++; console.log('FAIL: ' + what); }
}
function log(msg) { console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`); }

function compose(version) {
  return `services:
  web:
    image: ${IMAGE}
    command: ["sh", "-c", "echo starting-${version}; for i in 1 2 3; do echo warming $$i; sleep 1; done; touch /ready; echo ready; exec sleep 3600"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 1s
      retries: 60
    volumes: [data:/data]
volumes:
  data: {}
`;
}
const BROKEN = `services:
  web:
    image: ${IMAGE}
    restart: sometimes
`;

function docker(...args) {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

async function audit(page, name) {
  await page.evaluate(AXE); // through the debugger protocol: the page's CSP stays strict
  const v = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((x) => ({ id: x.id, impact: x.impact, help: x.help,
      nodes: x.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = v.filter((x) => x.impact === 'serious' || x.impact === 'critical');
  for (const x of v) log(`axe ${name}: ${x.impact} ${x.id}: ${x.help} (${x.nodes.join('; ')})`);
  check(bad.length === 0, `${name}: ${bad.length} serious or critical accessibility violations`);
  await page.screenshot({ path: path.join(OUT, name + '.png'), fullPage: true });
}

// poll fn in the page (through the debugger protocol: waitForFunction's polling would
// evaluate strings, which the page's CSP refuses) until it returns something truthy
async function until(page, fn, arg, timeout = 20000, interval = 50) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + String(fn).slice(0, 120));
    await new Promise((res) => setTimeout(res, interval));
  }
}

async function jobEnds(page, want, timeout = 60000) {
  const status = page.locator('#job-status');
  await until(page, () => /: (succeeded|failed|cancelled)$/.test(document.getElementById('job-status').textContent), null, timeout, 100);
  const text = await status.textContent();
  check(text.endsWith(want), `job ended '${text}', want ${want}`);
  if (!text.endsWith(want)) log(await page.getByRole('log', { name: 'Deployment log' }).textContent());
  return text;
}

// click button, wait for the job it queues (a newer job id of that kind) to end with want
async function runJob(page, button, kind, want = 'succeeded') {
  const jobId = () => Number((document.getElementById('job-status').textContent.match(/Job (\d+)/) || [0, 0])[1]);
  const prev = await page.evaluate(jobId);
  await button.click();
  await until(page, ([p, k]) => {
    const m = document.getElementById('job-status').textContent.match(/Job (\d+) \((\w+)\)/);
    return m && Number(m[1]) > p && m[2] === k;
  }, [prev, kind]);
  return jobEnds(page, want);
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  // no session: refused
  let r = await fetch(URL + '/api/v1/projects');
  check(r.status === 401, `GET /projects without a session: ${r.status}, want 401`);

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.setDefaultTimeout(20000);

  // sign in
  await page.goto(URL + '/');
  await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
  await audit(page, '01-sign-in');
  await page.getByLabel('Username').fill(USER);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong user name or password' }).waitFor();
  // the second try by keyboard alone: Tab between the fields to the button, a visible focus
  await page.getByLabel('Username').fill('');
  await page.getByLabel('Username').focus();
  await page.keyboard.type(USER);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+A');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => {
    const el = document.activeElement;
    const cs = getComputedStyle(el);
    return { text: el.textContent, outline: cs.outlineStyle, width: parseFloat(cs.outlineWidth) };
  });
  check(focused.text === 'Sign in' && focused.outline !== 'none' && focused.width >= 2,
    `Tab reaches "Sign in" with a visible focus ring (${JSON.stringify(focused)})`);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  log('signed in');

  // the first load of the projects page, with an empty cache, under 100 KB
  {
    const fresh = await browser.newContext({ storageState: await context.storageState() });
    const p2 = await fresh.newPage();
    const sizes = [];
    p2.on('response', async (res) => {
      if ((res.headers()['content-type'] || '').includes('event-stream')) return;
      try { sizes.push((await res.body()).length + 300); } catch { /* aborted */ }
    });
    await p2.goto(URL + '/');
    await p2.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    await p2.waitForTimeout(300);
    const total = sizes.reduce((a, b) => a + b, 0);
    log(`first load of the projects page: ${sizes.length} responses, ${total} bytes (bodies + 300 B of headers each)`);
    check(total < 100 * 1024, `first load ${total} bytes, want < 100 KB`);
    await fresh.close();
  }
  await audit(page, '02-projects-empty');

  // a broken compose file: its error inline, with line and column, nothing saved
  await page.getByRole('link', { name: 'New project' }).click();
  await page.getByRole('heading', { name: 'New project', level: 1 }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill(P);
  await page.getByLabel('Compose file', { exact: true }).fill(BROKEN);
  await page.getByLabel('Environment').fill('GREETING=hello');
  await page.getByRole('button', { name: 'Create' }).click();
  const err = page.locator('#new-compose-errors');
  await err.getByText('Line 4, column 14').waitFor();
  check((await err.textContent()).includes('restart'), 'the error names the restart policy');
  check(await page.getByLabel('Compose file', { exact: true }).getAttribute('aria-invalid') === 'true', 'the field is marked invalid');
  await audit(page, '03-new-project-error');
  r = await page.request.get(URL + '/api/v1/projects');
  check(!(await r.json()).projects.some((x) => x.name === P), 'the broken project was not saved');

  // create it for real
  await page.getByLabel('Compose file', { exact: true }).fill(compose('v1'));
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: P, level: 1 }).waitFor();
  for (const b of ['Deploy', 'Stop', 'Restart', 'Rollback']) check(await page.getByRole('button', { name: b, exact: true }).isVisible(), `button ${b}`);
  log('project created');

  // deploy: log lines arrive while the job runs
  const logEl = page.getByRole('log', { name: 'Deployment log' });
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  const seen = await until(page, () => {
    const l = document.querySelector('pre[aria-label="Deployment log"]').textContent;
    const s = document.getElementById('job-status').textContent;
    return l.trim().length > 0 ? { lines: l.trim().split('\n').length, status: s } : null;
  }, null, 30000, 20);
  log(`first log lines: ${seen.lines} while '${seen.status}'`);
  check(/: (running|queued)$/.test(seen.status), `log lines arrived before the job ended (status '${seen.status}')`);
  await jobEnds(page, 'succeeded');
  const services = page.getByRole('region', { name: 'Services' });
  await services.getByText('healthy', { exact: true }).waitFor({ timeout: 30000 });
  check((await logEl.textContent()).length > 0, 'the log has lines');
  log('deployed, healthy');
  await page.getByRole('button', { name: 'Check health' }).click();
  await page.getByRole('region', { name: 'Health' }).getByText('passing').waitFor();
  await audit(page, '04-project-healthy');

  // the projects page shows it live
  await page.getByRole('link', { name: 'Projects' }).click();
  await page.getByRole('link', { name: P }).waitFor();
  await page.getByRole('cell', { name: /web: .*healthy/ }).waitFor();
  await audit(page, '05-projects');
  await page.getByRole('link', { name: P }).click();
  await page.getByRole('heading', { name: P, level: 1 }).waitFor();

  // change it, deploy, roll back
  const cname = `${P}-web-1`;
  await page.getByLabel('Compose file', { exact: true }).fill(compose('v2'));
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
  await runJob(page, page.getByRole('button', { name: 'Deploy', exact: true }), 'deploy');
  check(docker('inspect', '-f', '{{json .Config.Cmd}}', cname).includes('starting-v2'), 'the change is deployed (v2)');
  await runJob(page, page.getByRole('button', { name: 'Rollback', exact: true }), 'rollback');
  check(docker('inspect', '-f', '{{json .Config.Cmd}}', cname).includes('starting-v1'), 'rolled back to v1');
  const rel = page.getByRole('region', { name: 'Releases' });
  await rel.getByRole('cell', { name: 'rollback (of release 1)' }).waitFor();
  check(await rel.getByRole('button', { name: 'Roll back to release 2' }).isVisible(), 'any release can be rolled back to');
  log('changed, deployed, rolled back');

  // container logs
  await page.getByLabel('Service', { exact: true }).selectOption('web');
  await page.getByRole('button', { name: 'Show logs' }).click();
  await page.getByRole('log', { name: 'Container logs' }).getByText(/starting-v1/).waitFor();

  // back up, change the data, restore (the confirmation names the volume)
  docker('exec', cname, 'sh', '-c', 'echo one > /data/marker');
  await runJob(page, page.getByRole('button', { name: 'Back up now' }), 'backup');
  const backups = page.getByRole('region', { name: 'Backups' });
  const restoreBtn = backups.getByRole('button', { name: /^Restore / });
  await restoreBtn.waitFor();
  check(await backups.getByRole('link', { name: /^Download / }).count() === 1, 'a download link');
  docker('exec', cname, 'sh', '-c', 'echo two > /data/marker');
  await restoreBtn.click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  check((await dialog.textContent()).includes(`volume "${P}_data"`), 'the confirmation names the volume it replaces');
  await audit(page, '06-restore-confirmation');
  await runJob(page, dialog.getByRole('button', { name: 'Restore now' }), 'restore');
  await services.getByText('healthy', { exact: true }).waitFor({ timeout: 30000 });
  check(docker('exec', cname, 'cat', '/data/marker') === 'one', 'the restore put the backed-up data back');
  await audit(page, '07-project-restored');
  log('backed up and restored');

  // a failing health check: the deploy fails and the health view says why
  const failing = compose('v3').replace('test: ["CMD", "test", "-f", "/ready"]',
    'test: ["CMD", "sh", "-c", "echo probe-says-no-database; exit 1"]').replace('retries: 60', 'retries: 2');
  await page.getByLabel('Compose file', { exact: true }).fill(failing);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
  await runJob(page, page.getByRole('button', { name: 'Deploy', exact: true }), 'deploy', 'failed');
  await page.getByRole('button', { name: 'Check health' }).click();
  const healthRegion = page.getByRole('region', { name: 'Health' });
  await healthRegion.getByText('probe-says-no-database').waitFor();
  check(await healthRegion.getByText('unhealthy', { exact: true }).count() === 1, 'the health view says "unhealthy"');
  await audit(page, '08-project-unhealthy');
  log('a failing deploy explained');

  // cancel a running deployment (one whose service takes 60 s to become healthy)
  await page.getByLabel('Compose file', { exact: true }).fill(compose('v3').replace('for i in 1 2 3', () => 'for i in $$(seq 60)'));
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
  const prevJob = await page.evaluate(() => document.getElementById('job-status').textContent);
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await until(page, (prev) => {
    const t = document.getElementById('job-status').textContent;
    return t !== prev && / \(deploy\): running$/.test(t) && /Starting|Started/.test(document.querySelector('pre[aria-label="Deployment log"]').textContent);
  }, prevJob, 30000);
  await page.getByRole('button', { name: 'Cancel deployment' }).click();
  await jobEnds(page, 'cancelled', 30000);
  log('cancelled a running deployment');

  // admin
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('heading', { name: 'Admin', level: 1 }).waitFor();
  await page.getByRole('region', { name: 'Users' }).getByRole('cell', { name: USER, exact: true }).waitFor();
  await page.getByRole('region', { name: 'Audit log' }).getByText(`POST /api/v1/projects/${P}/restore`).waitFor();
  // a user added, a token created (shown once) that works, then revoked
  await page.getByLabel('New user name').fill('dashviewer');
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByLabel('New user password').fill('dash-viewer-pw-1');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByRole('region', { name: 'Users' }).getByRole('cell', { name: 'dashviewer', exact: true }).waitFor();
  await page.getByLabel('Scope', { exact: true }).selectOption('read');
  await page.getByLabel('Expires in (empty: never)').fill('1h');
  await page.getByRole('button', { name: 'Create token' }).click();
  const tokenText = (await page.locator('p.token').textContent()).trim();
  check(tokenText.startsWith('zpt_'), 'the new token is shown once');
  r = await fetch(URL + '/api/v1/projects', { headers: { Authorization: 'Bearer ' + tokenText } });
  check(r.status === 200, `the new token works: ${r.status}`);
  const tokens = page.getByRole('region', { name: 'API tokens and sessions' });
  await tokens.getByRole('button', { name: /^Revoke token / }).first().click();
  await until(page, () => !document.querySelector('p.token') && document.querySelectorAll('button[aria-label^="Revoke token"]').length === 0, null);
  r = await fetch(URL + '/api/v1/projects', { headers: { Authorization: 'Bearer ' + tokenText } });
  check(r.status === 401, `the revoked token is refused: ${r.status}`);
  await audit(page, '09-admin');
  await page.setViewportSize({ width: 390, height: 844 }); // a phone
  await page.getByRole('link', { name: 'Projects' }).click();
  await page.getByRole('cell', { name: /web: / }).waitFor();
  await audit(page, '10-projects-phone');
  await page.setViewportSize({ width: 1200, height: 900 });

  // sign out: the session is gone, even replayed by hand
  const session = (await context.cookies()).find((c) => c.name === 'zp_session');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
  r = await fetch(URL + '/api/v1/projects', { headers: { Cookie: `zp_session=${session.value}` } });
  check(r.status === 401, `the old session after sign-out: ${r.status}, want 401`);
  r = await page.request.get(URL + '/api/v1/projects');
  check(r.status() === 401, `the browser after sign-out: ${r.status()}, want 401`);

  check(problems.length === 0, 'no console errors or CSP violations: ' + problems.join(' | '));
  await browser.close();
}

main().then(() => {
  log(`${passes} checks passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}, (e) => {
  log('FAIL: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
