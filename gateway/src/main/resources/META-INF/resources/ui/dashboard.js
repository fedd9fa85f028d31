// Forgeline dashboard: plain JS, no build step. Reads the gateway's /ui/api/* (jobs, curves,
// models and lineage, eval reports, datasets) and talks to /v1 for the playground.
// The URL fragment opens things directly: #job=ID, #model=ID, #dataset=ID; live=0 turns the
// status stream off (headless checks: an open stream keeps a virtual-time browser waiting);
// key=KEY stores an API key and is then removed from the address; chat=TEXT (with model=ID)
// sends one message in the playground.
'use strict';

const KEY_STORAGE = 'forge.apiKey';
const state = {
  key: localStorage.getItem(KEY_STORAGE) || '',
  jobs: new Map(),
  models: [],
  selectedJob: null,
  selectedModel: null,
  curves: null,
  chart: null,
  stream: null,
  chat: [],
  chatAbort: null,
};

// ---- small helpers ------------------------------------------------------------------------

const $ = (sel) => document.querySelector(sel);

/** An element with attributes and children; text is always text, never parsed as HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.entries(v).forEach(([dk, dv]) => { if (dv !== null && dv !== undefined) el.dataset[dk] = dv; });
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const enc = encodeURIComponent;
const pct = (v) => (v === null || v === undefined ? '—' : (v * 100).toFixed(1) + '%');
const num = (v, d = 4) => (typeof v === 'number' && isFinite(v) ? (Math.abs(v) >= 1000 ? v.toFixed(0) : +v.toFixed(d)) : v ?? '—');
const badge = (v) => h('span', { class: 'badge', dataset: { v: (v || '').toLowerCase() } }, v || '—');

function fmtAge(createdAt) {
  if (!createdAt) return '—';
  let s = Math.max(0, Math.round((Date.now() - Date.parse(createdAt)) / 1000));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  return Math.floor(s / 86400) + ' d';
}

function fragment() {
  return new URLSearchParams(location.hash.replace(/^#/, ''));
}

function setFragment(changes) {
  const p = fragment();
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined) p.delete(k); else p.set(k, v);
  }
  history.replaceState(null, '', '#' + p.toString());
}

function showMessage(text) {
  const m = $('#message');
  m.textContent = text || '';
  m.hidden = !text;
}

class ApiFailure extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.key) headers.Authorization = 'Bearer ' + state.key;
  const res = await fetch(path, Object.assign({}, options, { headers }));
  if (res.status === 401) {
    askForKey();
    throw new ApiFailure(401, 'This gateway needs an API key');
  }
  if (!res.ok) {
    let message = res.status + ' ' + res.statusText;
    try { message = (await res.json()).error.message || message; } catch (e) { /* not JSON */ }
    throw new ApiFailure(res.status, message);
  }
  return res;
}

const getJson = async (path) => (await api(path)).json();

function askForKey() {
  $('#auth').hidden = false;
  $('#api-key').focus();
}

/** Reads a server-sent-events body (fetch, so that it can carry the API key); calls onData per data line. */
async function readSse(res, onData, signal) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  while (!signal || !signal.aborted) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
      if (data) onData(data);
    }
  }
}

// ---- jobs ---------------------------------------------------------------------------------

const METRIC_KEYS = ['loss', 'held_out_loss', 'accuracy', 'base_accuracy', 'gate_passed', 'examples', 'kept', 'items_done'];

function metricText(metrics) {
  const parts = [];
  for (const k of METRIC_KEYS) if (metrics && k in metrics) parts.push(k + ' ' + num(metrics[k]));
  return parts.slice(0, 4).join(' · ');
}

function renderJobs() {
  const body = $('#jobs-table tbody');
  const jobs = [...state.jobs.values()].sort((a, b) => (b.created_at || '').localeCompare(a.created_at || '') || a.id.localeCompare(b.id));
  body.replaceChildren(...jobs.map((j) => h('tr', {
    class: 'job-row clickable' + (j.id === state.selectedJob ? ' selected' : ''),
    dataset: { jobId: j.id, state: (j.state || '').toLowerCase(), kind: j.kind },
    onclick: () => selectJob(j.id),
  },
  h('td', {}, h('code', {}, j.id)),
  h('td', {}, j.kind || '—'),
  h('td', { class: 'job-state' }, badge(j.state)),
  h('td', { class: 'job-progress' }, h('span', { class: 'bar' }, h('span', { style: `width:${Math.round((j.progress || 0) * 100)}%` })), ' ', Math.round((j.progress || 0) * 100) + '%'),
  h('td', { class: 'job-age' }, fmtAge(j.created_at)),
  h('td', { class: 'metrics' }, metricText(j.metrics), j.error ? h('div', { class: 'error' }, j.error) : null))));
  $('#jobs-count').textContent = '(' + jobs.length + ')';
  if (state.selectedJob && state.jobs.has(state.selectedJob)) renderJobSummary(state.jobs.get(state.selectedJob));
}

let renderQueued = false;
function renderJobsSoon() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => { renderQueued = false; renderJobs(); }, 200);
}

async function loadJobs() {
  const list = await getJson('/ui/api/jobs');
  state.jobs = new Map(list.data.map((j) => [j.id, j]));
  renderJobs();
}

function renderJobSummary(job) {
  $('#job-state').replaceChildren(badge(job.state));
  $('#job-state').dataset.v = (job.state || '').toLowerCase();
  const facts = [['kind', job.kind], ['progress', Math.round((job.progress || 0) * 100) + '%'], ['age', fmtAge(job.created_at)],
    ['attempt', job.attempt], ['checkpoint', job.checkpoint]];
  for (const [k, v] of Object.entries(job.metrics || {})) facts.push([k, num(v)]);
  for (const [k, v] of Object.entries(job.result || {})) facts.push([k, typeof v === 'object' ? JSON.stringify(v) : v]);
  $('#job-summary').replaceChildren(...facts.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]));
  const err = $('#job-error');
  err.hidden = !job.error;
  err.textContent = job.error || '';
}

/** The model a job belongs to: a training job's result (or ft-{job}), an eval job's chain. */
function modelOfJob(job) {
  if (!job) return null;
  if (job.result && job.result.model_id) return job.result.model_id;
  if (job.kind === 'train') return 'ft-' + job.id;
  if (job.kind === 'eval') {
    const m = state.models.find((x) => x.eval_job && x.eval_job.id === job.id);
    if (m) return m.id;
    if (job.id.endsWith('-eval')) return 'ft-' + job.id.slice(0, -5);
  }
  return null;
}

async function selectJob(id, { openModel = true } = {}) {
  state.selectedJob = id;
  setFragment({ job: id });
  $('#job-detail').hidden = false;
  $('#job-title').textContent = id;
  renderJobs();
  const job = state.jobs.get(id) || await getJson('/ui/api/jobs/' + enc(id));
  renderJobSummary(job);
  state.curves = await getJson('/ui/api/jobs/' + enc(id) + '/events');
  drawChart();
  restartStream();
  const model = modelOfJob(job);
  if (openModel && model && state.models.some((m) => m.id === model)) await selectModel(model);
}

// ---- the loss chart (uPlot) -----------------------------------------------------------------

function drawChart() {
  const el = $('#loss-chart');
  const c = state.curves || { train: { step: [], loss: [] }, held_out: { step: [], loss: [] } };
  if (state.chart) { state.chart.destroy(); state.chart = null; }
  el.replaceChildren();
  const train = new Map(c.train.step.map((s, i) => [s, c.train.loss[i]]));
  const held = new Map(c.held_out.step.map((s, i) => [s, c.held_out.loss[i]]));
  const steps = [...new Set([...train.keys(), ...held.keys()])].sort((a, b) => a - b);
  const points = train.size + held.size;
  el.dataset.points = '0';
  el.dataset.paintedPixels = '0';
  el.dataset.trainPoints = String(train.size);
  el.dataset.heldOutPoints = String(held.size);
  if (!steps.length) {
    el.append(h('div', { class: 'empty' }, 'No loss reported for this job' + (c.kind && c.kind !== 'train' ? ' (a ' + c.kind + ' job)' : ' yet')));
    return;
  }
  const data = [steps, steps.map((s) => (train.has(s) ? train.get(s) : null)), steps.map((s) => (held.has(s) ? held.get(s) : null))];
  // a fine-tuning run falls from ~10 to ~1 in a few steps: a log axis keeps the rest of the run readable
  const all = [...train.values(), ...held.values()];
  const log = Math.min(...all) > 0 && Math.max(...all) / Math.min(...all) > 5;
  el.dataset.scale = log ? 'log' : 'linear';
  const opts = {
    width: Math.max(320, el.clientWidth || 600),
    height: 280,
    scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
    series: [
      { label: 'step' },
      { label: 'train loss', stroke: '#2563eb', width: 2, spanGaps: true, points: { show: train.size < 60 } },
      { label: 'held-out loss', stroke: '#ea580c', width: 2, spanGaps: true, points: { show: true, size: 7, fill: '#ea580c' } },
    ],
    axes: [{ label: 'step' }, { label: log ? 'loss (log scale)' : 'loss' }],
    hooks: { draw: [(u) => measureChart(u, el, points)] },
  };
  state.chart = new uPlot(opts, data, el);
}

/**
 * What the chart shows, for checks from the DOM: data-points (points handed to the chart) and
 * data-painted-pixels (pixels of the canvas in a series' colour: saturated ones; the axes and grid
 * are grey and the background transparent).
 */
function measureChart(u, el, points) {
  const canvas = u.ctx.canvas;
  let painted = 0;
  try {
    const px = u.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < px.length; i += 4) {
      if (px[i + 3] > 0 && Math.max(px[i], px[i + 1], px[i + 2]) - Math.min(px[i], px[i + 1], px[i + 2]) > 60) painted++;
    }
  } catch (e) {
    painted = -1; // the canvas could not be read
  }
  el.dataset.points = String(points);
  el.dataset.paintedPixels = String(painted);
}

let chartQueued = false;
function addEventToCurves(event) {
  if (!state.curves || event.job_id !== state.selectedJob) return;
  const d = event.data || {};
  const put = (curve, step, y) => {
    const i = curve.step.indexOf(step);
    if (i >= 0) curve.loss[i] = y;
    else { curve.step.push(step); curve.loss.push(y); }
  };
  if (typeof d.step !== 'number') return;
  if (event.type === 'progress' && typeof d.loss === 'number') put(state.curves.train, d.step, d.loss);
  if (typeof d.held_out_loss === 'number') put(state.curves.held_out, d.step, d.held_out_loss);
  if (!chartQueued) {
    chartQueued = true;
    setTimeout(() => { chartQueued = false; drawChart(); }, 500);
  }
}

// ---- live status stream ---------------------------------------------------------------------

function liveEnabled() {
  return fragment().get('live') !== '0';
}

function setLive(on, text) {
  const el = $('#live');
  el.dataset.live = on ? 'on' : 'off';
  el.textContent = text;
}

function restartStream() {
  if (state.stream) state.stream.abort();
  state.stream = null;
  if (!liveEnabled()) { setLive(false, 'live updates off'); return; }
  const controller = new AbortController();
  state.stream = controller;
  const url = '/ui/api/jobs/stream' + (state.selectedJob ? '?job=' + enc(state.selectedJob) : '');
  (async () => {
    try {
      const res = await api(url, { signal: controller.signal });
      setLive(true, 'live');
      await readSse(res, (data) => {
        const msg = JSON.parse(data);
        if (msg.type === 'status') {
          state.jobs.set(msg.job.id, msg.job);
          renderJobsSoon();
          if (msg.job.state === 'SUCCEEDED' && msg.job.kind === 'eval') loadModels().catch(() => {});
        } else if (msg.type === 'event') {
          addEventToCurves(msg.event);
        }
      }, controller.signal);
    } catch (e) {
      if (controller.signal.aborted) return;
      if (e instanceof ApiFailure && e.status === 401) { setLive(false, 'offline'); return; }
    }
    if (controller.signal.aborted) return;
    setLive(false, 'reconnecting');
    setTimeout(() => { if (state.stream === controller) restartStream(); }, 3000);
  })();
}

// ---- models, lineage, evaluation ------------------------------------------------------------

async function loadModels() {
  const list = await getJson('/ui/api/models');
  state.models = list.data;
  renderModels();
}

function renderModels() {
  $('#models-table tbody').replaceChildren(...state.models.map((m) => h('tr', {
    class: 'model-row clickable' + (m.id === state.selectedModel ? ' selected' : ''),
    dataset: { modelId: m.id, status: m.status },
    onclick: () => selectModel(m.id),
  },
  h('td', {}, h('code', {}, m.id)),
  h('td', {}, badge(m.status)),
  h('td', {}, m.base_model || '—'),
  h('td', { class: 'mono' }, (m.dataset && m.dataset.id) || m.dataset_id || '—'),
  h('td', {}, m.gate ? badge(m.gate) : '—'),
  h('td', {}, m.eval && typeof m.eval.accuracy === 'number' ? pct(m.eval.base_accuracy) + ' → ' + pct(m.eval.accuracy) : '—'))));
}

async function selectModel(id) {
  state.selectedModel = id;
  setFragment({ model: id });
  renderModels();
  $('#model-detail').hidden = false;
  $('#model-title').textContent = id;
  const m = await getJson('/ui/api/models/' + enc(id));
  $('#model-status').replaceChildren(badge(m.status));
  renderLineage(m);
  try {
    renderEval(await getJson('/ui/api/models/' + enc(id) + '/eval'));
  } catch (e) {
    if (!(e instanceof ApiFailure) || e.status !== 404) throw e;
    renderEval(null, e.message);
  }
}

function renderLineage(m) {
  const el = $('#lineage');
  const datasetId = (m.dataset && m.dataset.id) || m.dataset_id;
  el.dataset.model = m.id;
  el.dataset.task = m.task || '';
  el.dataset.dataset = datasetId || '';
  el.dataset.baseModel = m.base_model || '';
  el.dataset.gate = m.gate || '';
  el.dataset.status = m.status || '';
  const step = (key, label, value, extra, onclick) => h('li', { class: 'lineage-step' + (onclick ? ' clickable' : ''), dataset: { step: key }, onclick },
    h('span', { class: 'k' }, label), h('span', { class: 'v' }, value || '—'), extra ? h('div', { class: 'muted' }, extra) : null);
  const ds = m.dataset;
  const short = (hash) => (hash ? hash.replace(/^sha256:/, '').slice(0, 12) : null);
  const steps = [
    step('task', 'task', m.task || (ds ? '—' : 'not recorded (dataset without a card)'), m.datagen_job ? 'datagen job ' + m.datagen_job : null),
    step('dataset', 'dataset', datasetId,
      [ds ? ds.train_examples + ' train / ' + ds.test_examples + ' test' : null, short(m.dataset_hash)].filter(Boolean).join(' · '),
      ds ? () => selectDataset(ds.id) : null),
    step('base', 'base model', m.base_model),
    ...(m.parents ? [step('parents', 'average of', m.parents.map((p) => +p.weight.toPrecision(3) + ' × ' + p.model).join(' + '))] : []),
    step('training', 'training', m.train_job ? m.train_job.id : null,
      [m.method, m.train_job && m.train_job.state ? m.train_job.state.toLowerCase() : null].filter(Boolean).join(' · '),
      m.train_job && state.jobs.has(m.train_job.id) ? () => selectJob(m.train_job.id, { openModel: false }) : null),
  ];
  if (m.adapter_uri || (m.method && m.method !== 'full')) steps.push(step('adapter', 'adapter', m.adapter_uri ? shortUri(m.adapter_uri) : null, m.method));
  steps.push(step('merged', 'merged model', m.id, m.artifact_uri ? shortUri(m.artifact_uri) : null));
  steps.push(step('eval', 'evaluation', m.eval_job ? m.eval_job.id : null,
    m.eval_job && m.eval_job.state ? m.eval_job.state.toLowerCase() : 'not run'));
  const gate = h('li', { class: 'lineage-step gate', dataset: { step: 'gate', gate: m.gate || '' } },
    h('span', { class: 'k' }, 'gate'), m.gate ? badge(m.gate) : h('span', { class: 'v' }, 'no verdict yet'),
    ' ', badge(m.status), m.gate_reason ? h('div', { class: 'muted' }, m.gate_reason) : null);
  steps.push(gate);
  el.replaceChildren(...steps.flatMap((s, i) => (i ? [h('li', { class: 'arrow', 'aria-hidden': 'true' }, '→'), s] : [s])));
}

function shortUri(uri) {
  const parts = uri.replace(/\/+$/, '').split('/');
  return parts.slice(-3).join('/');
}

function renderEval(ev, missing) {
  const table = $('#eval-table');
  const body = table.tBodies[0];
  const foot = table.tFoot;
  const delta = (d) => (d === null || d === undefined ? '—' : h('span', { class: d > 0 ? 'delta-pos' : d < 0 ? 'delta-neg' : '' }, (d > 0 ? '+' : '') + (d * 100).toFixed(1)));
  if (!ev) {
    body.replaceChildren();
    foot.replaceChildren();
    table.dataset.subjects = '0';
    $('#eval-job').textContent = '';
    $('#eval-note').textContent = missing || 'No evaluation yet';
    $('#gate-checks').replaceChildren();
    return;
  }
  $('#eval-job').textContent = ev.eval_job ? '(' + ev.eval_job + ')' : '';
  table.dataset.subjects = String(ev.subjects.length);
  body.replaceChildren(...ev.subjects.map((s) => h('tr', {
    class: 'eval-row', dataset: { subject: s.subject, base: s.base ?? '', tuned: s.tuned ?? '' },
  }, h('td', {}, s.subject.replaceAll('_', ' ')), h('td', {}, s.n ?? '—'),
  h('td', { class: 'base-acc' }, pct(s.base)), h('td', { class: 'tuned-acc' }, pct(s.tuned)), h('td', { class: 'diff' }, delta(s.diff)))));
  const o = ev.overall;
  foot.replaceChildren(h('tr', { class: 'eval-overall', dataset: { base: o.base ?? '', tuned: o.tuned ?? '' } },
    h('td', {}, 'all (micro)'), h('td', {}, o.n ?? '—'), h('td', {}, pct(o.base)), h('td', {}, pct(o.tuned)), h('td', {}, delta(o.diff))));
  const notes = [];
  if (ev.held_out_loss !== undefined) notes.push('held-out loss: base ' + num(ev.base_held_out_loss) + ' → tuned ' + num(ev.held_out_loss));
  if (ev.comparison && ev.comparison.mcnemar_exact_p !== undefined) notes.push('McNemar p ' + num(ev.comparison.mcnemar_exact_p, 3));
  if (ev.comparison && ev.comparison.bootstrap_95) notes.push('95% CI of Δ [' + ev.comparison.bootstrap_95.map((x) => (x * 100).toFixed(1)).join(', ') + ']');
  $('#eval-note').textContent = notes.join(' · ');
  const checks = (ev.gate && ev.gate.checks) || [];
  $('#gate-checks').replaceChildren(...checks.map((c) => h('li', { class: 'gate-check', dataset: { outcome: c.outcome, name: c.name } },
    c.name + ': ' + c.outcome + (c.detail ? ' — ' + c.detail : ''))));
}

// ---- datasets -------------------------------------------------------------------------------

async function loadDatasets() {
  const list = await getJson('/ui/api/datasets');
  $('#datasets-table tbody').replaceChildren(...list.data.map((d) => h('tr', {
    class: 'dataset-row clickable', dataset: { datasetId: d.id }, onclick: () => selectDataset(d.id),
  }, h('td', {}, h('code', {}, d.id)), h('td', {}, d.task || '—'), h('td', {}, d.train_examples), h('td', {}, d.test_examples),
  h('td', { class: 'mono' }, d.source || '—'))));
}

async function selectDataset(id) {
  setFragment({ dataset: id });
  const view = await getJson('/ui/api/datasets/' + enc(id) + '?limit=20');
  const s = view.summary;
  $('#dataset-view').hidden = false;
  $('#dataset-title').textContent = s.id;
  const facts = [['task', s.task], ['format', s.format], ['train examples', s.train_examples], ['test examples', s.test_examples],
    ['source', s.source], ['teacher', s.teacher_model], ['hash', s.content_hash], ['system prompt', view.system_prompt]];
  for (const [k, v] of Object.entries(view.stats || {})) facts.push([k, typeof v === 'object' ? JSON.stringify(v) : v]);
  $('#dataset-facts').replaceChildren(...facts.filter(([, v]) => v !== undefined && v !== null)
    .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]));
  const examples = view.examples.map((ex) => h('div', { class: 'example' }, ...(ex && Array.isArray(ex.messages)
    ? ex.messages.map((t) => h('div', { class: 'turn' }, h('span', { class: 'role' }, t.role), typeof t.content === 'string' ? t.content : JSON.stringify(t.content)))
    : [h('pre', {}, typeof ex === 'string' ? ex : JSON.stringify(ex, null, 2))])));
  if (view.examples_error) examples.unshift(h('p', { class: 'error' }, view.examples_error));
  $('#dataset-examples').replaceChildren(...examples);
  $('#dataset-examples').dataset.examples = String(view.examples.length);
}

// ---- playground -----------------------------------------------------------------------------

async function loadChatModels() {
  const list = await getJson('/v1/models');
  const select = $('#chat-model');
  const previous = select.value;
  select.replaceChildren(...list.data.map((m) => h('option', { value: m.id }, m.id)));
  if (previous && list.data.some((m) => m.id === previous)) select.value = previous;
  else if (state.selectedModel && list.data.some((m) => m.id === state.selectedModel)) select.value = state.selectedModel;
}

function renderChat() {
  $('#chat-log').replaceChildren(...state.chat.map((m) => h('div', { class: 'msg ' + m.role }, h('span', { class: 'role' }, m.role), m.content)));
  $('#chat-log').scrollTop = $('#chat-log').scrollHeight;
}

async function sendChat(text) {
  const model = $('#chat-model').value;
  if (!text.trim() || !model) return;
  state.chat.push({ role: 'user', content: text });
  const reply = { role: 'assistant', content: '' };
  state.chat.push(reply);
  renderChat();
  const controller = new AbortController();
  state.chatAbort = controller;
  $('#chat-send').hidden = true;
  $('#chat-stop').hidden = false;
  try {
    const res = await api('/v1/chat/completions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      signal: controller.signal,
      body: JSON.stringify({
        model, stream: true,
        messages: state.chat.filter((m) => m !== reply && m.role !== 'error'),
        temperature: Number($('#chat-temperature').value),
        max_tokens: Number($('#chat-max-tokens').value),
      }),
    });
    await readSse(res, (data) => {
      if (data === '[DONE]') return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new ApiFailure(500, chunk.error.message);
      const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
      if (delta && delta.content) { reply.content += delta.content; renderChat(); }
    }, controller.signal);
  } catch (e) {
    if (!controller.signal.aborted) state.chat.push({ role: 'error', content: e.message });
  } finally {
    state.chatAbort = null;
    $('#chat-send').hidden = false;
    $('#chat-stop').hidden = true;
    renderChat();
  }
}

// ---- start ----------------------------------------------------------------------------------

async function start() {
  showMessage('');
  document.body.dataset.ready = 'false';
  const p = fragment();
  try {
    await Promise.all([loadJobs(), loadModels(), loadDatasets(), loadChatModels()]);
    $('#auth').hidden = true;
    if (p.get('job')) await selectJob(p.get('job'), { openModel: !p.get('model') });
    else restartStream();
    if (p.get('model')) await selectModel(p.get('model'));
    if (p.get('dataset')) await selectDataset(p.get('dataset'));
    if (p.get('chat')) { // #model=ID&chat=TEXT: ask the model once, as if typed in the playground
      if (p.get('model') && [...$('#chat-model').options].some((o) => o.value === p.get('model'))) $('#chat-model').value = p.get('model');
      await sendChat(p.get('chat'));
    }
  } catch (e) {
    if (!(e instanceof ApiFailure && e.status === 401)) showMessage(e.message);
    document.body.dataset.error = e.message;
  } finally {
    document.body.dataset.ready = 'true';
  }
}

function wire() {
  const p = fragment();
  if (p.get('key')) { // a key handed in the address (scripts): keep it, out of the address bar
    state.key = p.get('key');
    localStorage.setItem(KEY_STORAGE, state.key);
    setFragment({ key: null });
  }
  $('#auth-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.key = $('#api-key').value.trim();
    localStorage.setItem(KEY_STORAGE, state.key);
    $('#auth').hidden = true;
    start();
  });
  $('#key-button').addEventListener('click', () => { $('#auth').hidden = !$('#auth').hidden; });
  $('#chat-send-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('#chat-input').value;
    $('#chat-input').value = '';
    sendChat(text);
  });
  $('#chat-input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('#chat-send-form').requestSubmit(); }
  });
  $('#chat-stop').addEventListener('click', () => state.chatAbort && state.chatAbort.abort());
  $('#chat-clear').addEventListener('click', () => { state.chat = []; renderChat(); });
  window.addEventListener('resize', () => state.chart && state.chart.setSize({ width: Math.max(320, $('#loss-chart').clientWidth), height: 280 }));
  setInterval(() => { if (!renderQueued) renderJobs(); }, 30000); // ages move on
  start();
}

wire();
