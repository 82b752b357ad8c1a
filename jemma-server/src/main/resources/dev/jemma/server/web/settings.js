// Jemma web chat: the sampling settings (the header's Temperature and Max tokens, and the Settings panel). An empty field
// means "the server's default" (jemma serve's flags, else the model file's general.sampling.*, else Gemma's), so only
// what the user set is sent. The bounds are the server's own range table (GET /api/sampler-settings, the table every
// front end checks), the placeholders the chosen model's defaults (/api/show's sampling_defaults); the values typed are
// kept in this browser's localStorage.
'use strict';
window.JemmaSettings = (function () {
  const KEY = 'jemma.sampling';
  // The panel's fields by group; a setting of the server's table listed nowhere here (a newer server's) goes under More.
  const GROUPS = [
    ['Sampling', ['seed', 'top_k', 'top_p', 'min_p', 'typical_p', 'top_n_sigma']],
    ['Penalties', ['repeat_penalty', 'repeat_last_n', 'presence_penalty', 'frequency_penalty']],
    ['XTC', ['xtc_probability', 'xtc_threshold']],
    ['DRY', ['dry_multiplier', 'dry_base', 'dry_allowed_length', 'dry_penalty_last_n']],
    ['Mirostat', ['mirostat', 'mirostat_tau', 'mirostat_eta']]
  ];
  // settings whose field is in the header, by element id
  const HEADER = { temperature: 'temperature', num_predict: 'max-tokens' };
  const LABELS = {
    temperature: 'Temperature', num_predict: 'Max tokens', seed: 'Seed', top_k: 'Top-k', top_p: 'Top-p', min_p: 'Min-p',
    typical_p: 'Typical-p', top_n_sigma: 'Top-n-sigma', repeat_penalty: 'Repeat penalty', repeat_last_n: 'Repeat last n',
    presence_penalty: 'Presence penalty', frequency_penalty: 'Frequency penalty', xtc_probability: 'XTC probability',
    xtc_threshold: 'XTC threshold', dry_multiplier: 'DRY multiplier', dry_base: 'DRY base', dry_allowed_length: 'DRY allowed length',
    dry_penalty_last_n: 'DRY last n', mirostat: 'Mirostat', mirostat_tau: 'Mirostat τ', mirostat_eta: 'Mirostat η',
    samplers: 'Sampler order'
  };
  const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

  let api = null, modelName = null, setStatus = null;
  let table = null;            // name -> {name, min, max, min_exclusive, integer, rule}; null until the server answered
  let stages = null;           // [{letter, name}] of the sampler order
  const defaults = {};         // model -> its sampling_defaults
  const fields = {};           // name -> input element (the header's two and the panel's)

  const label = (name) => LABELS[name] || name;
  const panel = () => document.getElementById('settings');

  function stored() {
    try { return JSON.parse(localStorage.getItem(KEY) || '{}') || {}; } catch (e) { return {}; }
  }
  function save() {
    const values = {};
    for (const [name, el] of Object.entries(fields)) if (el.value.trim()) values[name] = el.value.trim();
    if (Object.keys(values).length) localStorage.setItem(KEY, JSON.stringify(values)); else localStorage.removeItem(KEY);
  }

  /** The value to send for `name` typed as `raw`: {value} (undefined: not set), or {error} in the server's words. */
  function check(name, raw) {
    raw = (raw || '').trim();
    if (!raw) return { value: undefined };
    const what = label(name) + ' ' + raw;
    if (name === 'samplers') {
      if (!stages) return { value: raw };
      for (const c of raw) {
        if (!stages.some((s) => s.letter === c)) {
          return { error: what + ': unknown sampler letter \'' + c + '\' (' + stages.map((s) => s.letter + ' ' + s.name).join(', ') + ')' };
        }
      }
      return { value: raw };
    }
    if (!NUMBER.test(raw)) return { error: what + ': not a number' };
    const s = table && table[name];
    const n = Number(raw);
    if (!s) return { value: n };
    if (s.integer && !Number.isInteger(n)) return { error: what + ': must be a whole number, ' + s.rule };
    // the server reads a non-integer setting as a 32-bit float and checks that
    const x = s.integer ? n : Math.fround(n);
    const low = s.min !== null && (s.min_exclusive ? !(x > s.min) : !(x >= s.min));
    const high = s.max !== null && !(x <= s.max);
    if (low || high) return { error: what + ': must be ' + s.rule };
    // a seed is any 64-bit integer: sent as typed (a JS number keeps 53 bits); the server checks the range
    return { value: name === 'seed' ? raw : n };
  }

  function showError(name, error) {
    const el = fields[name];
    el.classList.toggle('invalid', !!error);
    el.setAttribute('aria-invalid', String(!!error));
    const note = document.getElementById('error-' + name);
    if (note) note.textContent = error || '';
    else el.title = error || el.dataset.rule || '';
  }

  /**
   * The options to send: {options, seed} (seed: the digits typed, or null), or {error, name} for the first field the
   * server would refuse.
   */
  function collect() {
    const options = {};
    let seed = null;
    for (const [name, el] of Object.entries(fields)) {
      const r = check(name, el.value);
      showError(name, r.error);
      if (r.error) return { error: r.error, name };
      if (r.value === undefined) continue;
      if (name === 'seed') seed = r.value; else options[name] = r.value;
    }
    return { options, seed };
  }

  /** The request body as JSON, the seed's digits written as they were typed (JSON.stringify would round them). */
  function body(request, seed) {
    const json = JSON.stringify(Object.assign({ options: {} }, request));
    if (seed === null) return json;
    const open = '{"options":{';
    return open + '"seed":' + seed + (json.charAt(open.length) === '}' ? '' : ',') + json.slice(open.length);
  }

  function placeholderOf(name, v) {
    if (v === undefined || v === null) return 'default';
    if (name === 'seed' && v === -1) return 'random';
    if (name === 'num_predict' && v < 0) return '∞';
    return String(v);
  }
  function showDefaults() {
    const d = defaults[modelName()] || {};
    for (const [name, el] of Object.entries(fields)) el.placeholder = placeholderOf(name, d[name]);
  }

  /** Fetches the chosen model's defaults: always when `load` (the panel is open), else only if it is loaded already. */
  async function refreshDefaults(load) {
    const m = modelName();
    if (!m || defaults[m]) { showDefaults(); return; }
    try {
      if (!load) {
        const ps = await (await api('/api/ps')).json();
        if (!(ps.models || []).some((x) => x.name === m)) { showDefaults(); return; }
      }
      const r = await api('/api/show', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ model: m }) });
      if (r.ok) {
        const d = (await r.json()).sampling_defaults;
        if (d) defaults[m] = d;
      }
    } catch (e) { /* placeholders stay "default" */ }
    if (m === modelName()) showDefaults();
  }

  function addField(grid, name, rule) {
    const wrap = document.createElement('label');
    wrap.className = 'setting';
    const title = document.createElement('span');
    title.className = 'name';
    title.textContent = label(name);
    const input = document.createElement('input');
    input.type = 'text';
    input.id = 'set-' + name;
    input.inputMode = name === 'samplers' ? 'text' : 'decimal';
    input.autocomplete = 'off';
    input.spellcheck = false;
    input.dataset.rule = rule;
    input.title = rule;
    const error = document.createElement('span');
    error.className = 'error';
    error.id = 'error-' + name;
    wrap.append(title, input, error);
    grid.appendChild(wrap);
    return input;
  }

  function buildPanel() {
    const p = panel();
    const body = p.querySelector('.groups');
    body.innerHTML = '';
    const listed = new Set(Object.keys(HEADER));
    const groups = GROUPS.map(([g, names]) => [g, names.filter((n) => table[n])]);
    groups.forEach(([, names]) => names.forEach((n) => listed.add(n)));
    const more = Object.keys(table).filter((n) => !listed.has(n));
    if (more.length) groups.push(['More', more]);
    groups.push(['Order', ['samplers']]);
    for (const [g, names] of groups) {
      if (!names.length) continue;
      const set = document.createElement('fieldset');
      const legend = document.createElement('legend');
      legend.textContent = g;
      set.appendChild(legend);
      for (const n of names) {
        const rule = n === 'samplers'
          ? 'the stages to run, in order, one letter each: ' + stages.map((s) => s.letter + ' ' + s.name).join(', ') + ' (a stage left out is not run)'
          : table[n].rule;
        fields[n] = addField(set, n, rule);
      }
      body.appendChild(set);
    }
  }

  function reset() {
    for (const [name, el] of Object.entries(fields)) { el.value = ''; showError(name, null); }
    localStorage.removeItem(KEY);
    setStatus('Sampling settings reset: the server\'s defaults apply.');
  }

  /** Sets up the fields once the server's table is read; `deps`: {api, model, setStatus, modelSelect}. */
  async function init(deps) {
    api = deps.api; modelName = deps.model; setStatus = deps.setStatus;
    for (const [name, id] of Object.entries(HEADER)) fields[name] = document.getElementById(id);
    const toggle = document.getElementById('settings-toggle');
    toggle.addEventListener('click', () => {
      const p = panel();
      p.hidden = !p.hidden;
      toggle.setAttribute('aria-expanded', String(!p.hidden));
      if (!p.hidden) refreshDefaults(true);
    });
    document.getElementById('settings-reset').addEventListener('click', reset);
    deps.modelSelect.addEventListener('change', () => refreshDefaults(!panel().hidden));
    try {
      const t = await (await api('/api/sampler-settings')).json();
      table = {};
      for (const s of t.settings) table[s.name] = s;
      stages = t.samplers.stages;
      for (const [name, el] of Object.entries(HEADER)) {
        const f = document.getElementById(el);
        if (table[name]) { f.dataset.rule = table[name].rule; f.title = label(name) + ': ' + table[name].rule + '; empty: the server\'s default'; }
      }
      buildPanel();
    } catch (e) {
      setStatus('Cannot read the server\'s sampling settings: ' + e);
    }
    const values = stored();
    for (const [name, el] of Object.entries(fields)) {
      if (values[name] !== undefined) el.value = values[name];
      el.addEventListener('input', () => { showError(name, check(name, el.value).error); save(); });
    }
    document.body.dataset.settings = 'ready';   // for the browser tests
    refreshDefaults(false);
  }

  /** Opens the panel at `name`'s field (a value the server would refuse), or focuses a header field. */
  function reveal(name) {
    const el = fields[name];
    if (!el) return;
    if (!(name in HEADER)) {
      panel().hidden = false;
      document.getElementById('settings-toggle').setAttribute('aria-expanded', 'true');
    }
    el.focus();
  }

  return { init, collect, body, reveal, refreshDefaults: () => refreshDefaults(false) };
})();
