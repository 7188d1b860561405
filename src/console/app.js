// The console: sign-in, clusters list, create form, cluster page. Hash routes (#/clusters,
// #/new, #/cluster/<id>), no framework: each view builds its DOM with h() and refreshes only the
// parts that change, so a form being typed into is never rebuilt under the user's hands.
import { Api, forgetKeys, problemsOf, problemText, storedKeys, storeKeys } from './api.js';
import { connectionLines } from './connect.js';
import { field, h, setFieldError, svg, when } from './dom.js';
import { CHARTS, formatValue, MetricHistory, parseExposition, sparklinePath } from './metrics.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const live = document.getElementById('live');
let api = null;
/** Timers of the current view, stopped when the view changes. */
let timers = [];

function announce(text) {
  live.textContent = '';
  setTimeout(() => (live.textContent = text), 50);
}

function stopTimers() {
  for (const t of timers) clearInterval(t);
  timers = [];
}

function every(ms, fn) {
  timers.push(setInterval(fn, ms));
}

function show(title, ...content) {
  stopTimers();
  document.title = `${title} · Cache Store console`;
  main.replaceChildren(h('h1', {}, title), ...content);
}

function signOut(message) {
  forgetKeys();
  api = null;
  location.hash = '#/signin';
  renderSignIn(message);
}

document.getElementById('sign-out').addEventListener('click', () => signOut('Signed out.'));

function route() {
  const keys = storedKeys();
  if (!keys) {
    nav.hidden = true;
    return renderSignIn();
  }
  api ??= new Api(keys, (msg) => signOut(`Signed out: ${msg}`));
  nav.hidden = false;
  const hash = location.hash || '#/clusters';
  const m = /^#\/cluster\/([^/]+)$/.exec(hash);
  if (m) return renderCluster(decodeURIComponent(m[1]));
  if (hash === '#/new') return renderCreate();
  return renderList();
}

window.addEventListener('hashchange', route);
route();

// ---- Sign in ---------------------------------------------------------------------------------

function renderSignIn(message) {
  nav.hidden = true;
  const access = h('input', { name: 'access_key', autocomplete: 'username', required: true, autofocus: true });
  const secret = h('input', { name: 'secret_key', type: 'password', autocomplete: 'current-password', required: true });
  const account = h('input', { name: 'account_id', autocomplete: 'off' });
  const status = h('p', { class: 'error', role: 'alert' }, message && message !== 'Signed out.' ? message : '');
  const form = h(
    'form',
    { 'aria-label': 'Sign in', novalidate: true },
    field('Access key', access),
    field('Secret key', secret, 'Kept in this browser tab only; every request is signed here with it.'),
    field('Account ID (optional)', account, 'Leave empty to use the account of the key.'),
    h('button', { type: 'submit' }, 'Sign in'),
    status,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const keys = { accessKey: access.value.trim(), secretKey: secret.value, accountId: account.value.trim() };
    if (!keys.accessKey || !keys.secretKey) {
      status.textContent = 'Give the access key and the secret key.';
      return;
    }
    // One signed request proves the keys before they are kept.
    const trial = new Api(keys);
    const r = await trial.get('/v1/clusters?size=1').catch((err) => ({ status: 0, body: String(err) }));
    if (r.status !== 200) {
      status.textContent = `Sign-in failed: ${problemText(r.body)}`;
      return;
    }
    storeKeys(keys);
    api = null;
    location.hash = '#/clusters';
    route();
  });
  show('Sign in', form);
  access.focus();
}

// ---- Clusters list ---------------------------------------------------------------------------

const STATES = ['RUNNING', 'STOPPED', 'CREATING', 'STOPPING', 'STARTING', 'RESTARTING', 'EDITING', 'SYNCHRONIZING', 'UPGRADING', 'TERMINATING', 'TERMINATED', 'ERROR', 'FAILED', 'UNKNOWN'];

function stateBadge(state) {
  return h('span', { class: `state state-${state}` }, state);
}

function renderList() {
  const name = h('input', { name: 'filter_name', type: 'search' });
  const state = h('select', { name: 'filter_state' }, h('option', { value: '' }, 'Any state'), STATES.map((s) => h('option', { value: s }, s)));
  const body = h('tbody');
  const count = h('p', { 'aria-live': 'polite' });
  const table = h(
    'table',
    {},
    h('caption', { class: 'visually-hidden' }, 'Clusters'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'HA'), h('th', { scope: 'col' }, 'Instances'), h('th', { scope: 'col' }, 'Created'))),
    body,
  );
  const refresh = async () => {
    const q = new URLSearchParams({ size: '100', sort: 'created_at:desc' });
    if (name.value.trim()) q.set('name', name.value.trim());
    if (state.value) q.set('service_state', state.value);
    const r = await api.get(`/v1/clusters?${q}`);
    if (r.status !== 200) {
      count.textContent = problemText(r.body);
      return;
    }
    const rows = r.body.contents ?? [];
    count.textContent = `${r.body.count} cluster${r.body.count === 1 ? '' : 's'}`;
    body.replaceChildren(
      ...rows.map((c) =>
        h(
          'tr',
          { 'data-cluster': c.name },
          h('td', {}, h('a', { href: `#/cluster/${encodeURIComponent(c.id)}` }, c.name)),
          h('td', {}, stateBadge(c.service_state)),
          h('td', {}, c.ha_enabled ? 'yes' : 'no'),
          h('td', {}, c.instance_count),
          h('td', {}, when(c.created_at)),
        ),
      ),
    );
  };
  name.addEventListener('input', refresh);
  state.addEventListener('change', refresh);
  show(
    'Clusters',
    h('section', {}, h('div', { class: 'toolbar', role: 'search' }, field('Filter by name', name), field('State', state), h('a', { href: '#/new' }, 'Create cluster'))),
    h('section', {}, count, table),
  );
  void refresh();
  // Live state: the list follows creates and state changes while it is open.
  every(3000, refresh);
}

// ---- Create cluster --------------------------------------------------------------------------

const DAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'];

async function renderCreate() {
  const engines = await api.get('/v1/engine-versions');
  const types = await api.get('/v1/server-types');
  const engineList = engines.status === 200 ? engines.body.contents : [];
  const typeList = types.status === 200 ? types.body.contents : [];

  const c = {
    name: h('input', { name: 'name', 'data-loc': 'body.name' }),
    engine: h('select', { name: 'engine', 'data-loc': 'body.dbaas_engine_version_id' }, engineList.map((e) => h('option', { value: e.id }, `${e.name} (${e.software_version})`))),
    serverType: h('select', { name: 'server_type', 'data-loc': 'body.instance_groups' }),
    prefix: h('input', { name: 'instance_name_prefix', 'data-loc': 'body.instance_name_prefix' }),
    subnet: h('input', { name: 'subnet_id', 'data-loc': 'body.subnet_id', value: 'local-subnet' }),
    timezone: h('input', { name: 'timezone', 'data-loc': 'body.timezone', value: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' }),
    dataGb: h('input', { name: 'data_size_gb', type: 'number', min: 1, value: 56, 'data-loc': 'body.instance_groups.0.block_storage_groups' }),
    ha: h('input', { name: 'ha_enabled', type: 'checkbox', 'data-loc': 'body.ha_enabled' }),
    replicas: h('input', { name: 'replica_count', type: 'number', min: 0, max: 2, value: 0, 'data-loc': 'body.replica_count' }),
    password: h('input', { name: 'password', type: 'password', autocomplete: 'new-password', 'data-loc': 'body.init_config_option.database_user_password' }),
    port: h('input', { name: 'database_port', type: 'number', value: 6378, 'data-loc': 'body.init_config_option.database_port' }),
    sentinelPort: h('input', { name: 'sentinel_port', type: 'number', value: 26378, 'data-loc': 'body.init_config_option.sentinel_port' }),
    backups: h('input', { name: 'backups', type: 'checkbox', 'data-loc': 'body.init_config_option.backup_option' }),
    retention: h('input', { name: 'retention_period_day', type: 'number', value: 7, 'data-loc': 'body.init_config_option.backup_option.retention_period_day' }),
    backupHour: h('input', { name: 'starting_time_hour', type: 'number', value: 3, 'data-loc': 'body.init_config_option.backup_option.starting_time_hour' }),
    allow: h('textarea', { name: 'allowable_ip_addresses', rows: 2, 'data-loc': 'body.allowable_ip_addresses' }),
    maintenance: h('input', { name: 'maintenance', type: 'checkbox', 'data-loc': 'body.maintenance_option' }),
    day: h('select', { name: 'starting_day_of_week', 'data-loc': 'body.maintenance_option.starting_day_of_week' }, DAYS.map((d) => h('option', { value: d }, d))),
    startTime: h('input', { name: 'starting_time', value: '0300', 'data-loc': 'body.maintenance_option.starting_time' }),
    period: h('input', { name: 'period_hour', value: '1', 'data-loc': 'body.maintenance_option.period_hour' }),
  };
  const fillTypes = () => {
    const engine = engineList.find((e) => e.id === c.engine.value);
    const fitting = typeList.filter((t) => !engine?.product_image_type || t.product_image_type === engine.product_image_type);
    c.serverType.replaceChildren(...fitting.map((t) => h('option', { value: t.name }, `${t.name} (${t.cpu_core} vCPU, ${t.memory_gb} GB)`)));
  };
  c.engine.addEventListener('change', fillTypes);
  fillTypes();
  const general = h('div', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Create cluster');
  const form = h(
    'form',
    { 'aria-label': 'Create cluster', novalidate: true },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Cluster'),
      h('div', { class: 'grid' }, field('Name', c.name, '3 to 20 letters'), field('Engine and version', c.engine), field('Server type', c.serverType), field('Instance name prefix', c.prefix, '3 to 13: a lower-case letter, then letters, digits, -'), field('Subnet', c.subnet), field('Time zone', c.timezone), field('Data disk (GB)', c.dataGb)),
    ),
    h('fieldset', {}, h('legend', {}, 'High availability'), h('div', { class: 'grid' }, field('Primary with replicas and Sentinels (HA)', c.ha), field('Replicas', c.replicas, '0 to 2; HA needs at least 1'), field('Sentinel port', c.sentinelPort))),
    h('fieldset', {}, h('legend', {}, 'Access'), h('div', { class: 'grid' }, field('Password', c.password, '8 to 30 characters'), field('Port', c.port), field('Allow-list', c.allow, 'IP addresses or CIDR ranges, one a line; empty: all'))),
    h('fieldset', {}, h('legend', {}, 'Backups'), h('div', { class: 'grid' }, field('Daily backups', c.backups), field('Retention (days)', c.retention), field('Starting hour', c.backupHour))),
    h('fieldset', {}, h('legend', {}, 'Maintenance window'), h('div', { class: 'grid' }, field('Weekly maintenance window', c.maintenance), field('Day', c.day), field('Start (HHMM)', c.startTime), field('Length (hours)', c.period))),
    submit,
    general,
  );
  const controls = Object.values(c);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const ctl of controls) setFieldError(ctl, '');
    general.textContent = '';
    submit.disabled = true;
    try {
      const r = await api.post('/v1/clusters', createBody(c));
      if (r.status === 202) {
        announce(`Creating cluster ${c.name.value}`);
        location.hash = `#/cluster/${encodeURIComponent(r.body.resource.id)}`;
        return;
      }
      showProblems(r.body, controls, general);
    } finally {
      submit.disabled = false;
    }
  });
  show('Create cluster', form);
  c.name.focus();
}

/** The Create Cluster body the form says. */
function createBody(c) {
  const ha = c.ha.checked;
  const replicas = Number(c.replicas.value || 0);
  const storage = [
    { role_type: 'OS', size_gb: 104 },
    { role_type: 'DATA', size_gb: Number(c.dataGb.value) },
  ];
  const type = c.serverType.value;
  const groups = ha
    ? [
        { role_type: 'MASTER_REPLICA', server_type_name: type, block_storage_groups: storage, instances: [{ role_type: 'MASTER' }, ...Array.from({ length: replicas }, () => ({ role_type: 'REPLICA' }))] },
        { role_type: 'SENTINEL', server_type_name: type, block_storage_groups: storage, instances: [{ role_type: 'SENTINEL' }] },
      ]
    : [{ role_type: 'MASTER', server_type_name: type, block_storage_groups: storage, instances: [{ role_type: 'MASTER' }] }];
  const init = { database_user_password: c.password.value, database_port: Number(c.port.value) };
  if (ha) init.sentinel_port = Number(c.sentinelPort.value);
  if (c.backups.checked) init.backup_option = { retention_period_day: String(c.retention.value), starting_time_hour: String(c.backupHour.value) };
  const body = {
    name: c.name.value.trim(),
    dbaas_engine_version_id: c.engine.value,
    instance_name_prefix: c.prefix.value.trim(),
    subnet_id: c.subnet.value.trim(),
    timezone: c.timezone.value.trim(),
    ha_enabled: ha,
    replica_count: replicas,
    nat_enabled: false,
    allowable_ip_addresses: c.allow.value.split(/[\s,]+/).filter(Boolean),
    init_config_option: init,
    instance_groups: groups,
  };
  if (c.maintenance.checked) body.maintenance_option = { starting_day_of_week: c.day.value, starting_time: c.startTime.value.trim(), period_hour: c.period.value.trim() };
  return body;
}

/**
 * Puts each field problem of a 400 under the control whose data-loc is the longest prefix of the
 * problem's location (body.instance_groups.0.server_type_name goes to the server type); the rest,
 * and a plain message, go to `general`.
 */
function showProblems(body, controls, general) {
  const { fields, message } = problemsOf(body);
  const rest = [];
  let first = null;
  for (const f of fields) {
    let best = null;
    for (const ctl of controls) {
      const loc = ctl.dataset.loc;
      if (loc && (f.field === loc || f.field.startsWith(`${loc}.`)) && (!best || loc.length > best.dataset.loc.length)) best = ctl;
    }
    if (best) {
      const prev = document.getElementById(`${best.id}-error`)?.textContent;
      setFieldError(best, prev ? `${prev}; ${f.message}` : f.message);
      first ??= best;
    } else rest.push(`${f.field}: ${f.message}`);
  }
  general.textContent = [message, ...rest].filter(Boolean).join('; ');
  if (first) first.focus();
  else general.focus?.();
}

// ---- Cluster page ----------------------------------------------------------------------------

function renderCluster(id) {
  const path = `/v1/clusters/${encodeURIComponent(id)}`;
  const facts = h('dl', { class: 'facts' });
  const instances = h('tbody');
  const connection = h('div');
  const actions = h('div', { class: 'toolbar' });
  const request = h('div', { 'aria-live': 'polite' });
  const events = h('ol', { class: 'timeline', 'aria-label': 'Events, newest first' });
  const backupRows = h('tbody');
  const charts = h('div');
  const heading = h('span', {}, 'Cluster');
  const state = { detail: null, requestId: null, backups: [] };

  const backupNow = h('button', { type: 'button', class: 'secondary' }, 'Back up now');
  backupNow.addEventListener('click', async () => {
    const r = await api.post(`${path}/backup-histories`);
    if (r.status === 202) {
      state.requestId = r.body.request_id;
      announce('Backup started');
      await refresh();
    } else alertProblem(r.body);
  });
  const restore = restoreForm(path, state);

  const refresh = async () => {
    const r = await api.get(path);
    if (r.status === 404) {
      heading.textContent = 'Cluster not found';
      facts.replaceChildren(h('dt', {}, 'State'), h('dd', {}, 'This cluster does not exist (any more): terminated clusters leave the list.'));
      actions.replaceChildren();
      connection.replaceChildren();
      stopTimers();
      return;
    }
    if (r.status !== 200) return;
    const d = r.body;
    state.detail = d;
    heading.textContent = `Cluster ${d.name}`;
    document.title = `${d.name} · Cache Store console`;
    facts.replaceChildren(
      ...[
        ['State', stateBadge(d.service_state)],
        ['Engine', `${d.dbaas_engine_version_name} (${d.software_version})`],
        ['HA', d.ha_enabled ? `yes, ${Math.max(0, d.instance_count - 2)} replica(s)` : 'no'],
        ['Port', d.init_config_option.database_port ?? 6378],
        ['Backups', d.init_config_option.backup_option?.retention_period_day ? `daily at ${d.init_config_option.backup_option.starting_time_hour}:00, kept ${d.init_config_option.backup_option.retention_period_day} days` : 'not scheduled'],
        ['Allow-list', (d.allowable_ip_addresses ?? []).join(', ') || 'all addresses'],
        ['Maintenance', d.maintenance_option?.use_maintenance_option ? `${d.maintenance_option.starting_day_of_week} ${d.maintenance_option.starting_time}, ${d.maintenance_option.period_hour} h` : 'none'],
        ['Created', when(d.created_at)],
      ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    );
    const all = d.instance_groups.flatMap((g) => (g.instances ?? []).map((i) => ({ ...i, group: g })));
    instances.replaceChildren(
      ...all.map((i) =>
        h('tr', {}, h('td', {}, i.name), h('td', {}, i.role_type), h('td', {}, stateBadge(i.service_state)), h('td', {}, i.service_ip_address ?? ''), h('td', {}, i.group.server_type_name)),
      ),
    );
    renderConnection(connection, d);
    renderActions(actions, d, all, path, state, refresh);
    await Promise.all([refreshEvents(), refreshBackups()]);
  };

  const refreshEvents = async () => {
    const r = await api.get(`${path}/events`);
    if (r.status !== 200) return;
    const list = r.body.contents;
    events.replaceChildren(...[...list].reverse().map((e) => h('li', {}, h('time', { datetime: e.at }, when(e.at)), e.message)));
    // The running request: the one this page started, else the newest one the events name.
    const latest = [...list].reverse().find((e) => e.request_id)?.request_id;
    const rid = state.requestId ?? latest;
    if (!rid) {
      request.replaceChildren(h('p', {}, 'No request yet.'));
      return;
    }
    const details = await api.get(`/v1/requests/${encodeURIComponent(rid)}/details`);
    if (details.status !== 200) return;
    const q = details.body;
    const steps = list.filter((e) => e.request_id === rid);
    request.replaceChildren(
      h('p', {}, h('strong', {}, q.operation), ' ', h('span', { class: `state state-${q.state}`, 'data-request-state': q.state, 'data-request-op': q.operation }, q.state), q.last_step ? ` · last step: ${q.last_step}` : '', q.error ? h('span', { class: 'error' }, ` · ${q.error}`) : ''),
      h('ol', { 'aria-label': 'Steps of the request' }, steps.map((e) => h('li', {}, h('time', { datetime: e.at }, when(e.at)), ' ', e.message))),
    );
    if (q.state === 'COMPLETED' || q.state === 'FAILED') state.requestId = null;
  };

  const refreshBackups = async () => {
    const r = await api.get(`${path}/backup-histories?limit=50`);
    if (r.status !== 200) return;
    state.backups = r.body.contents;
    backupRows.replaceChildren(
      ...state.backups.map((b) =>
        h(
          'tr',
          { 'data-backup': b.backup_history_number },
          h('td', {}, b.backup_history_number),
          h('td', {}, stateBadge(b.backup_state)),
          h('td', {}, when(b.backup_start_at)),
          h('td', {}, b.backup_end_at ? when(b.backup_end_at) : ''),
          h('td', {}, formatValue(Math.round(b.backup_size_gb * 2 ** 30), 'bytes')),
          h('td', {}, b.backup_state_detail ?? ''),
        ),
      ),
    );
    restore.update(state.backups);
  };

  const panel = (id, title, ...content) => h('section', { 'aria-labelledby': `${id}-h` }, h('h2', { id: `${id}-h` }, title), ...content);
  const table = (columns, rows) => h('table', {}, h('thead', {}, h('tr', {}, columns.map((t) => h('th', { scope: 'col' }, t)))), rows);
  show(
    'Cluster',
    panel('summary', 'Summary', facts),
    panel('actions', 'Actions', actions),
    panel('conn', 'Connect', connection),
    panel('inst', 'Instances', table(['Name', 'Role', 'State', 'Address', 'Server type'], instances)),
    panel('metrics', 'Metrics', charts),
    panel('req', 'Request', request),
    panel('events', 'Events', events),
    panel('backups', 'Backups', backupNow, table(['Number', 'State', 'Started', 'Ended', 'Size', 'Detail'], backupRows), restore.element),
    panel('params', 'Parameters', parametersEditor(path, state)),
    panel('cmds', 'Commands', commandsEditor(path, state)),
  );
  main.querySelector('h1').replaceChildren(heading);
  void refresh();
  every(3000, refresh);
  startCharts(charts, id);
}

function alertProblem(body) {
  announce(problemText(body));
  window.alert(problemText(body));
}

/** The redis-cli line for the primary, and the Sentinel one for HA, each with a copy button. */
function renderConnection(el, d) {
  const lines = connectionLines(d).map(({ label, line }) => [label, line]);
  if (lines.length === 0) {
    el.replaceChildren(h('p', {}, 'No address yet: the cluster is being set up.'));
    return;
  }
  const current = [...el.querySelectorAll('code')].map((c) => c.textContent).join('\n');
  if (current === lines.map(([, l]) => l).join('\n')) return;
  el.replaceChildren(
    ...lines.map(([label, line], n) => {
      const id = `conn-${n}`;
      const copy = h('button', { type: 'button', class: 'secondary', 'aria-describedby': id }, `Copy ${label.toLowerCase()}`);
      copy.addEventListener('click', async () => {
        await navigator.clipboard.writeText(line);
        announce('Copied to the clipboard');
        copy.textContent = 'Copied';
        setTimeout(() => (copy.textContent = `Copy ${label.toLowerCase()}`), 2000);
      });
      return h('p', {}, h('span', {}, `${label}: `), h('code', { class: 'line', id, 'data-connection': n === 0 ? 'primary' : 'sentinel' }, line), ' ', copy);
    }),
    h('p', { class: 'hint' }, 'redis-cli asks for the password (--askpass); REDISCLI_AUTH works too.'),
  );
}

/** Stop / start / restart / switchover / terminate, each after a confirmation dialog. */
function renderActions(el, d, all, path, state, refresh) {
  const key = `${d.service_state}|${d.ha_enabled}|${all.map((i) => i.name + i.role_type).join(',')}`;
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  const act = (label, verb, method, suffix, bodyFn, danger) => {
    const b = h('button', { type: 'button', class: danger ? 'danger' : 'secondary' }, label);
    b.addEventListener('click', async () => {
      const body = bodyFn?.();
      if (bodyFn && !body) return;
      if (!(await confirmDialog(`${verb} cluster ${d.name}?`, label, danger))) return;
      const r = await api.call(method, `${path}${suffix}`, body);
      if (r.status === 202) {
        state.requestId = r.body.request_id;
        announce(`${label} requested`);
        await refresh();
      } else alertProblem(r.body);
    });
    return b;
  };
  const replicas = all.filter((i) => i.role_type === 'REPLICA');
  const target = h('select', { name: 'switchover_target' }, replicas.map((i) => h('option', { value: i.name }, i.name)));
  const switchover = d.ha_enabled && replicas.length > 0;
  el.replaceChildren(
    act('Stop', 'Stop', 'POST', '/stop'),
    act('Start', 'Start', 'POST', '/start'),
    act('Restart', 'Restart', 'POST', '/restart'),
    ...(switchover ? [field('Switchover to', target), act('Switchover', 'Switch over', 'POST', '/switchover', () => ({ switch_host_name: target.value }))] : []),
    act('Terminate', 'Terminate (delete with its backups)', 'DELETE', '', undefined, true),
  );
}

/** A modal confirmation; resolves true when confirmed. Escape or Cancel resolve false. */
function confirmDialog(question, confirmLabel, danger) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: danger ? 'danger' : '' }, confirmLabel);
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const dlg = h('dialog', { 'aria-labelledby': 'confirm-q' }, h('p', { id: 'confirm-q' }, question), ok, cancel);
    const done = (v) => {
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dlg.addEventListener('cancel', () => done(false));
    document.body.append(dlg);
    dlg.showModal();
    // Focus on Cancel: Enter alone never confirms a destructive action.
    cancel.focus();
  });
}

/** Restore by backup or to a point in time, offering the ranges the service can restore. */
function restoreForm(path, state) {
  const byBackup = h('input', { type: 'radio', name: 'restore_mode', value: 'backup', checked: true });
  const byTime = h('input', { type: 'radio', name: 'restore_mode', value: 'time' });
  const backup = h('select', { name: 'backup_history_number', 'data-loc': 'body.backup_history_number' });
  const time = h('input', { name: 'backup_recovery_time', type: 'datetime-local', step: 1, 'data-loc': 'body.backup_recovery_time' });
  const ranges = h('ul', { 'aria-label': 'Restorable ranges' });
  const name = h('input', { name: 'restore_name', 'data-loc': 'body.name' });
  const prefix = h('input', { name: 'restore_prefix', 'data-loc': 'body.instance_name_prefix' });
  const serverType = h('select', { name: 'restore_server_type', 'data-loc': 'body.server_type_name' });
  const general = h('div', { class: 'error', role: 'alert' });
  const refreshRanges = async () => {
    const r = await api.get(`${path}/restorable-ranges`);
    if (r.status !== 200) return;
    ranges.replaceChildren(
      ...(r.body.contents.length === 0
        ? [h('li', {}, 'None yet: a point in time can be restored once a backup has completed.')]
        : r.body.contents.map((w) => h('li', {}, `${when(w.from)} to ${when(w.to)} (backup ${w.backup_history_number})`))),
    );
    const last = r.body.contents.at(-1);
    if (last && !time.value) time.value = localInput(last.to);
  };
  const rangesButton = h('button', { type: 'button', class: 'secondary' }, 'Refresh ranges');
  rangesButton.addEventListener('click', refreshRanges);
  const controls = [backup, time, name, prefix, serverType];
  const submit = h('button', { type: 'submit' }, 'Restore into a new cluster');
  const form = h(
    'form',
    { 'aria-label': 'Restore', novalidate: true },
    h('h3', {}, 'Restore into a new cluster'),
    h('fieldset', {}, h('legend', {}, 'From'), h('label', { class: 'inline' }, byBackup, 'A backup'), h('label', { class: 'inline' }, byTime, 'A point in time')),
    h('div', { class: 'grid' }, field('Backup', backup), field('Point in time (your local time)', time)),
    h('p', {}, 'Restorable ranges:'),
    ranges,
    rangesButton,
    h('div', { class: 'grid' }, field('New cluster name', name), field('Instance name prefix', prefix), field('Server type', serverType)),
    submit,
    general,
  );
  const fillTypes = async () => {
    const d = state.detail;
    if (!d || serverType.options.length > 0) return;
    const r = await api.get(`/v1/server-types?product_image_type=${encodeURIComponent(d.product_image_type)}`);
    if (r.status === 200) serverType.replaceChildren(...r.body.contents.map((t) => h('option', { value: t.name }, t.name)));
    const current = d.instance_groups.find((g) => g.role_type !== 'SENTINEL')?.server_type_name;
    if (current) serverType.value = current;
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const ctl of controls) setFieldError(ctl, '');
    general.textContent = '';
    const body = { name: name.value.trim(), instance_name_prefix: prefix.value.trim(), server_type_name: serverType.value };
    if (byBackup.checked) body.backup_history_number = backup.value;
    else body.backup_recovery_time = time.value ? new Date(time.value).toISOString() : '';
    const r = await api.post(`${path}/restore`, body);
    if (r.status === 202) {
      announce('Restore started');
      state.requestId = r.body.request_id;
      general.replaceChildren('Restoring into ', h('a', { href: `#/cluster/${encodeURIComponent(r.body.resource.id)}`, 'data-restored': r.body.resource.id }, `new cluster ${body.name}`), '.');
      general.setAttribute('role', 'status');
      general.classList.remove('error');
      return;
    }
    general.setAttribute('role', 'alert');
    general.classList.add('error');
    showProblems(r.body, controls, general);
  });
  void refreshRanges();
  return {
    element: form,
    update(backups) {
      void fillTypes();
      const done = backups.filter((b) => b.backup_state === 'COMPLETED');
      const key = done.map((b) => b.backup_history_number).join(',');
      if (backup.dataset.key === key) return;
      const chosen = backup.value;
      backup.dataset.key = key;
      backup.replaceChildren(...done.map((b) => h('option', { value: b.backup_history_number }, `${b.backup_history_number} (${when(b.backup_start_at)})`)));
      if (chosen && done.some((b) => b.backup_history_number === chosen)) backup.value = chosen;
      // A backup completed: new ranges to offer.
      void refreshRanges();
    },
  };
}

/** An ISO time as the value of a datetime-local input (local time, seconds). */
function localInput(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * A table of named values loaded on demand, the editable ones as inputs; Save sends the changed
 * rows (after a confirmation) as one request of the cluster.
 */
function valuesEditor(state, spec) {
  const wrap = h('div');
  const load = h('button', { type: 'button', class: 'secondary' }, `Show ${spec.noun}`);
  wrap.append(load);
  load.addEventListener('click', async () => {
    const r = await api.get(spec.path);
    if (r.status !== 200) return alertProblem(r.body);
    const rows = r.body.contents.map((item) => ({ item, input: h('input', { name: `${spec.noun}-${item.name}`, value: spec.value(item), disabled: !spec.editable(item), 'aria-label': spec.label(item) }) }));
    const general = h('div', { class: 'error', role: 'alert' });
    const save = h('button', { type: 'button' }, `Save ${spec.noun}`);
    save.addEventListener('click', async () => {
      const changed = rows.filter(({ item, input }) => input.value !== spec.value(item));
      if (changed.length === 0) return (general.textContent = 'Nothing changed.');
      if (!(await confirmDialog(spec.question(changed.length), 'Save'))) return;
      const res = await api.put(spec.path, spec.body(changed));
      if (res.status === 202) {
        state.requestId = res.body.request_id;
        general.textContent = 'Requested.';
      } else general.textContent = problemText(res.body);
    });
    const head = h('thead', {}, h('tr', {}, spec.columns.map((t) => h('th', { scope: 'col' }, t))));
    wrap.replaceChildren(h('table', {}, head, h('tbody', {}, rows.map(({ item, input }) => h('tr', {}, h('td', {}, item.name), h('td', {}, input), spec.extra(item).map((x) => h('td', {}, x)))))), save, general);
  });
  return wrap;
}

/** The cluster's parameters: the modifiable ones editable, sent as Set Parameter Values. */
function parametersEditor(path, state) {
  return valuesEditor(state, {
    noun: 'parameters',
    path: `${path}/parameters`,
    columns: ['Name', 'Value', 'Allowed', 'Applies'],
    value: (p) => p.applied_value,
    editable: (p) => p.is_modifiable,
    label: (p) => `Value of ${p.name}`,
    extra: (p) => [p.allows_value, p.apply_type],
    question: (n) => `Change ${n} parameter(s)? Some apply by restarting the nodes.`,
    body: (changed) => ({ parameters: changed.map(({ item, input }) => ({ id: item.id, new_value: input.value, old_value: item.applied_value })) }),
  });
}

/** The cluster's renameable commands, sent as Update Commands. */
function commandsEditor(path, state) {
  return valuesEditor(state, {
    noun: 'commands',
    path: `${path}/commands`,
    columns: ['Command', 'Renamed to'],
    value: (c) => c.applied_value ?? '',
    editable: (c) => c.modifiable,
    label: (c) => `New name of ${c.name}`,
    extra: () => [],
    question: (n) => `Rename ${n} command(s)? Every data node restarts.`,
    body: (changed) => ({ commands: changed.map(({ item, input }) => ({ id: item.id, name: item.name, new_value: input.value })) }),
  });
}

// ---- Metrics charts --------------------------------------------------------------------------

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

function startCharts(el, clusterId) {
  const history = new MetricHistory(60);
  el.replaceChildren(h('p', {}, 'Loading metrics…'));
  const scrape = async () => {
    const r = await api.get(`/metrics?cluster_id=${encodeURIComponent(clusterId)}`).catch(() => ({ status: 0, body: '' }));
    if (r.status === 404) {
      // This service has no /metrics: say so once and stop asking.
      el.replaceChildren(h('p', { 'data-metrics': 'unavailable' }, 'Metrics unavailable: this service does not serve /metrics.'));
      clearInterval(timer);
      return;
    }
    if (r.status !== 200 || typeof r.body !== 'string') return;
    history.add(parseExposition(r.body), Date.now(), clusterId);
    el.replaceChildren(h('div', { class: 'charts' }, CHARTS.map((c) => chart(c, history.of(c.metric)))));
  };
  const timer = setInterval(scrape, 5000);
  timers.push(timer);
  void scrape();
}

function chart(c, series) {
  const width = 200;
  const height = 48;
  const max = Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.v)));
  const legend = series.map((s, i) =>
    h('div', {}, h('span', { class: `swatch-${i % COLOURS.length}`, 'aria-hidden': 'true' }, '■ '), `${s.instance}: ${s.points.length ? formatValue(s.points[s.points.length - 1].v, c.unit) : '…'}`),
  );
  const pic = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `${c.title}, last ${series[0]?.points.length ?? 0} samples` }, ...series.map((s, i) => svg('path', { d: sparklinePath(s.points, width, height, max), stroke: COLOURS[i % COLOURS.length] })));
  return h('figure', { class: 'chart', 'data-metric': c.metric }, h('figcaption', {}, c.title), pic, h('div', { class: 'legend' }, legend));
}
