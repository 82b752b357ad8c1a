// Jemma web chat: vanilla JS, no build step. Talks to the server's own Ollama API (/api/tags, /api/chat); images go
// as Ollama's base64 `images` of the user message, audio as Jemma's `audio` beside them. Conversations live in this
// browser's IndexedDB (images and audio included); markdown is rendered by the vendored marked, and everything a model
// writes passes DOMPurify before it reaches the page.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const messagesEl = $('messages'), inputEl = $('input'), sendEl = $('send'), stopEl = $('stop');
  const modelEl = $('model'), statusEl = $('status');
  const attachmentsEl = $('attachments'), fileEl = $('image-file'), listEl = $('conversations');
  let conversations = [];     // every stored conversation: {id, title, model, created, updated, messages}
  let current = null;         // the conversation on screen; null for a new one not yet sent
  let running = null;         // the answer being streamed: {conv, controller, answer}
  let pending = [];           // images attached to the next message: [{name, dataUrl}]
  let pendingAudio = [];      // [{name, data}] WAV clips (base64) for the next message
  let recorder = null;        // the microphone recording in progress
  const capabilities = {};    // model name -> what /api/tags says it does: completion, vision, audio, tools, embedding

  function setStatus(text) { statusEl.textContent = text || ''; }

  // With `jemma serve --api-key`, the page asks for the key once and keeps it in this browser's localStorage.
  function authHeaders(extra) {
    const h = Object.assign({}, extra || {});
    const key = localStorage.getItem('jemma.apiKey');
    if (key) h['Authorization'] = 'Bearer ' + key;
    return h;
  }
  async function api(path, init) {
    init = init || {};
    let r = await fetch(path, Object.assign({}, init, { headers: authHeaders(init.headers) }));
    if (r.status === 401) {
      const key = window.prompt('This server needs an API key:');
      if (key) {
        localStorage.setItem('jemma.apiKey', key);
        r = await fetch(path, Object.assign({}, init, { headers: authHeaders(init.headers) }));
      }
    }
    return r;
  }

  // --- storage: one IndexedDB record per conversation (localStorage's few MB would not hold images). Where the
  // browser gives the page no IndexedDB, conversations live until the page is closed, and the sidebar says so.
  const store = (function () {
    let db = null;
    function open() {
      if (!db) {
        db = new Promise((resolve, reject) => {
          if (!window.indexedDB) { reject(new Error('no IndexedDB')); return; }
          const r = indexedDB.open('jemma', 1);
          r.onupgradeneeded = () => r.result.createObjectStore('conversations', { keyPath: 'id' });
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error);
        });
      }
      return db;
    }
    function run(mode, op) {
      return open().then((d) => new Promise((resolve, reject) => {
        const t = d.transaction('conversations', mode);
        const req = op(t.objectStore('conversations'));
        t.oncomplete = () => resolve(req.result);
        t.onerror = () => reject(t.error);
        t.onabort = () => reject(t.error || new Error('the browser refused to store it'));
      }));
    }
    return {
      all: () => run('readonly', (s) => s.getAll()),
      put: (c) => run('readwrite', (s) => s.put(c)),
      remove: (id) => run('readwrite', (s) => s.delete(id))
    };
  })();
  let persistent = true;

  async function save(conv) {
    conv.updated = Date.now();
    // a conversation deleted while its answer was still streaming stays deleted
    if (!persistent || !conversations.includes(conv)) return;
    try {
      await store.put(conv);
    } catch (e) {
      const why = e && e.name === 'QuotaExceededError'
        ? 'Not saved: this browser\'s storage for the page is full; delete old conversations (images take the most room).'
        : 'Not saved in this browser: ' + (e && e.message ? e.message : e);
      setStatus(why);
      $('storage-note').textContent = why;      // stays in view: the status line is reused by the next answer
      $('storage-note').classList.add('warning');
    }
  }

  function newId() {
    return window.crypto && crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function titleOf(text, images, audio) {
    const t = text.replace(/\s+/g, ' ').trim();
    if (t) return t.length > 48 ? t.slice(0, 47) + '…' : t;
    if (images && images.length) return 'Image';
    if (audio && audio.length) return 'Audio';
    return 'New chat';
  }

  // --- the sidebar: newest first; open, rename (in place) and delete (after a confirmation)
  function renderSidebar() {
    listEl.innerHTML = '';
    const sorted = conversations.slice().sort((a, b) => b.updated - a.updated);
    for (const c of sorted) {
      const li = document.createElement('li');
      li.className = 'conversation' + (current && current.id === c.id ? ' active' : '');
      li.dataset.id = c.id;
      const open = document.createElement('button');
      open.type = 'button'; open.className = 'open'; open.textContent = c.title; open.title = c.title;
      open.addEventListener('click', () => switchTo(c));
      const rename = document.createElement('button');
      rename.type = 'button'; rename.className = 'rename'; rename.textContent = '✎'; rename.title = 'Rename';
      rename.addEventListener('click', () => startRename(li, c));
      const del = document.createElement('button');
      del.type = 'button'; del.className = 'delete'; del.textContent = '×'; del.title = 'Delete';
      del.addEventListener('click', () => removeConversation(c));
      li.append(open, rename, del);
      listEl.appendChild(li);
    }
  }

  function startRename(li, c) {
    const field = document.createElement('input');
    field.type = 'text'; field.className = 'rename-field'; field.value = c.title; field.setAttribute('aria-label', 'conversation name');
    li.querySelector('.open').replaceWith(field);
    field.focus(); field.select();
    let done = false;
    const finish = async (keep) => {
      if (done) return;
      done = true;
      const t = field.value.trim();
      if (keep && t && t !== c.title) { c.title = t; await save(c); }
      renderSidebar();
    };
    field.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); finish(true); } else if (e.key === 'Escape') finish(false);
    });
    field.addEventListener('blur', () => finish(true));
  }

  async function removeConversation(c) {
    if (!window.confirm('Delete the conversation "' + c.title + '"?')) return;
    if (running && running.conv === c) running.controller.abort();
    conversations = conversations.filter((x) => x !== c);
    if (persistent) {
      try { await store.remove(c.id); } catch (e) { setStatus('Cannot delete it from this browser: ' + e.message); }
    }
    if (current === c) newChat(); else renderSidebar();
  }

  function switchTo(c) {
    if (current === c) return;
    if (running) running.controller.abort();
    current = c;
    localStorage.setItem('jemma.current', c.id);
    if (c.model && Array.from(modelEl.options).some((o) => o.value === c.model && !o.disabled)) modelEl.value = c.model;
    updateMediaButtons();
    setStatus('');
    renderConversation();
    renderSidebar();
  }

  function newChat() {
    if (running) running.controller.abort();
    current = null;
    localStorage.removeItem('jemma.current');
    pending = []; renderPending(); pendingAudio = []; showAudio();
    messagesEl.innerHTML = ''; setStatus('');
    renderSidebar();
    inputEl.focus();
  }

  async function loadConversations() {
    let stored = [];
    try {
      stored = await store.all();
    } catch (e) {
      persistent = false;
      $('storage-note').textContent = 'This browser gives the page no storage: conversations are lost when it is closed.';
    }
    // A conversation begun while the store was being read (a first message sent as soon as the models were listed)
    // stays the same object, listed and current: replaced by the stored list, it was no longer "kept" and its answer
    // was never saved (the page treats a conversation missing from the list as deleted mid-answer).
    const begun = conversations;
    conversations = stored.filter((s) => !begun.some((c) => c.id === s.id)).concat(begun);
    if (current) { renderSidebar(); return; }
    const id = localStorage.getItem('jemma.current');
    const c = conversations.find((x) => x.id === id);
    if (c) switchTo(c); else renderSidebar();
  }

  // --- models: embedding models are listed but cannot be picked for a chat
  async function loadModels() {
    try {
      const r = await api('/api/tags');
      const body = await r.json();
      modelEl.innerHTML = '';
      const embedders = [];
      for (const m of body.models || []) {
        const o = document.createElement('option');
        o.value = m.name;
        const caps = m.capabilities || [];
        capabilities[m.name] = caps;
        if (caps.includes('embedding') && !caps.includes('completion')) {
          o.disabled = true;
          o.textContent = m.name + ' (embedding model, not for chat)';
          embedders.push(m.name);
        } else {
          o.textContent = m.name;
        }
        modelEl.appendChild(o);
      }
      const chat = Array.from(modelEl.options).filter((o) => !o.disabled);
      if (chat.length) {
        const want = current && current.model;
        modelEl.value = chat.some((o) => o.value === want) ? want : chat[0].value;
      } else if (embedders.length) {
        modelEl.selectedIndex = -1;
        setStatus(embedders.join(', ') + (embedders.length > 1 ? ' are embedding models' : ' is an embedding model') +
          ': it makes embeddings (/api/embed, /v1/embeddings), not chat answers. Serve a chat model to chat here (jemma serve -m MODEL).');
      } else {
        setStatus('No models: start the server with -m MODEL or run jemma pull.');
      }
    } catch (e) { setStatus('Cannot list models: ' + e); }
    updateMediaButtons();
  }

  function chatModel() {
    const o = modelEl.selectedOptions[0];
    return o && !o.disabled ? o.value : null;
  }

  // --- attach buttons follow the chosen model: Image… needs `vision`, Audio… and Record need `audio`. Otherwise they
  // are greyed out with a tooltip saying why, and a click (or a pasted or dropped image) says it in the status line.
  // aria-disabled rather than disabled: a disabled button gets no clicks and, in some browsers, no tooltip.
  const MEDIA = {
    vision: { buttons: ['attach'], what: 'images',
      why: 'it has no vision tower (Gemma 3 4B and larger with its mmproj file, or Gemma 3n with its mmproj, take images)' },
    audio: { buttons: ['attach-audio', 'record'], what: 'audio',
      why: 'it has no audio tower (Gemma 3n with its mmproj file takes audio)' }
  };
  const usualTitles = {};
  function can(cap) {
    const m = chatModel();
    return !!m && (capabilities[m] || []).includes(cap);
  }
  function cannot(cap) {
    const m = chatModel();
    return m ? m + ' cannot take ' + MEDIA[cap].what + ': ' + MEDIA[cap].why + '.' : 'Pick a chat model first.';
  }
  function updateMediaButtons() {
    for (const cap of Object.keys(MEDIA)) {
      const ok = can(cap);
      for (const id of MEDIA[cap].buttons) {
        const b = $(id);
        if (!(id in usualTitles)) usualTitles[id] = b.title;
        b.setAttribute('aria-disabled', String(!ok));
        b.classList.toggle('unavailable', !ok);
        b.title = ok ? usualTitles[id] : cannot(cap);
      }
    }
  }
  modelEl.addEventListener('change', updateMediaButtons);

  // --- markdown: marked turns the answer into HTML in which any HTML the model wrote is escaped to text, then
  // DOMPurify keeps only the tags markdown makes (a second wall: model output is never trusted as markup).
  const markdown = new marked.Marked({ gfm: true, breaks: true });
  const escapeHtml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  markdown.use({ renderer: { html: (token) => (token.block ? '<p>' + escapeHtml(token.text) + '</p>' : escapeHtml(token.text)) } });
  const SAFE = {
    ALLOWED_TAGS: ['p', 'br', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'strong', 'em', 'del', 'code', 'pre', 'blockquote',
      'ul', 'ol', 'li', 'a', 'table', 'thead', 'tbody', 'tr', 'th', 'td'],
    ALLOWED_ATTR: ['href', 'title', 'class', 'start', 'align']
  };
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') { node.setAttribute('target', '_blank'); node.setAttribute('rel', 'noopener noreferrer'); }
  });
  function renderMarkdown(src) {
    return DOMPurify.sanitize(markdown.parse(src), SAFE);
  }
  window.jemmaRenderMarkdown = renderMarkdown; // for the browser test

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    // plain http to another host has no async clipboard: the old selection-based copy still works there
    const ta = document.createElement('textarea');
    ta.value = text; ta.style.position = 'fixed'; ta.style.opacity = '0';
    document.body.appendChild(ta); ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    if (!ok) throw new Error('the browser refused');
  }
  function copyButton(label, text, className) {
    const b = document.createElement('button');
    b.type = 'button'; b.className = className; b.textContent = label;
    b.addEventListener('click', async () => {
      try { await copyText(text()); b.textContent = 'Copied'; } catch (e) { b.textContent = 'Copy failed'; }
      setTimeout(() => { b.textContent = label; }, 1500);
    });
    return b;
  }

  // Each code block gets a bar with its language and a Copy button (built here, outside the sanitized HTML).
  function showMarkdown(el, src) {
    el.innerHTML = renderMarkdown(src);
    for (const pre of el.querySelectorAll('pre')) {
      const code = pre.querySelector('code') || pre;
      const lang = /(?:^|\s)language-(\S+)/.exec(code.className || '');
      const block = document.createElement('div');
      block.className = 'code-block';
      const bar = document.createElement('div');
      bar.className = 'code-bar';
      const name = document.createElement('span');
      name.textContent = lang ? lang[1] : 'code';
      bar.append(name, copyButton('Copy', () => code.textContent, 'copy-code'));
      pre.replaceWith(block);
      block.append(bar, pre);
    }
  }

  // --- the conversation on screen
  function thumbnail(im) {
    const img = document.createElement('img');
    img.className = 'thumb';
    img.src = im.dataUrl;
    img.alt = im.name;
    img.title = im.name;
    return img;
  }

  function statsText(m) {
    const s = m.stats;
    if (!s) return m.stopped ? 'stopped' : '';
    const secs = (s.eval_duration || 0) / 1e9;
    let t = s.eval_count + ' tokens' + (secs > 0 ? ', ' + (s.eval_count / secs).toFixed(1) + ' tokens/s' : '') +
      ' · prompt ' + s.prompt_eval_count + ' new tokens';
    if (s.done_reason === 'length') t += ' · cut off (token limit or full context)';
    return t;
  }

  function actionButton(label, className, onClick) {
    const b = document.createElement('button');
    b.type = 'button'; b.className = className; b.textContent = label;
    b.addEventListener('click', () => { if (!running) onClick(); });
    return b;
  }

  function messageElement(m, i, last) {
    const div = document.createElement('div');
    div.className = 'msg ' + m.role;
    div.dataset.index = i;
    if (m.images && m.images.length) {
      const strip = document.createElement('div');
      strip.className = 'images';
      for (const im of m.images) strip.appendChild(thumbnail(im));
      div.appendChild(strip);
    }
    const body = document.createElement('div');
    body.className = 'content';
    if (m.role === 'assistant') showMarkdown(body, m.content); else body.textContent = m.content;
    div.appendChild(body);
    if (m.audio && m.audio.length) {
      const a = document.createElement('div');
      a.className = 'audio-names';
      a.textContent = m.audio.map((x) => '🎤 ' + x.name).join(', ');
      div.appendChild(a);
    }
    const meta = document.createElement('div');
    meta.className = 'meta';
    if (m.role === 'assistant') meta.textContent = statsText(m);
    div.appendChild(meta);
    const actions = document.createElement('div');
    actions.className = 'actions';
    if (running && running.answer === m) {
      // the answer being streamed gets its buttons once it is done
    } else if (m.role === 'user') {
      actions.appendChild(actionButton('Edit', 'edit', () => startEdit(div, i)));
    } else {
      actions.appendChild(copyButton('Copy', () => m.content, 'copy'));
      if (last) actions.appendChild(actionButton('Regenerate', 'regenerate', regenerate));
    }
    div.appendChild(actions);
    return div;
  }

  function renderConversation() {
    messagesEl.innerHTML = '';
    if (!current) return;
    const ms = current.messages;
    ms.forEach((m, i) => messagesEl.appendChild(messageElement(m, i, i === ms.length - 1)));
    if (ms.length && ms[ms.length - 1].role === 'user' && !running) {
      // the last answer failed or never came: offer to ask again
      const retry = document.createElement('div');
      retry.className = 'msg retry';
      retry.appendChild(actionButton('Answer this', 'regenerate', regenerate));
      messagesEl.appendChild(retry);
    }
    messagesEl.scrollTop = messagesEl.scrollHeight;
  }

  // Editing a user message: change its text (its images and audio stay) and send it again; everything after it goes.
  function startEdit(div, i) {
    const m = current.messages[i];
    const body = div.querySelector('.content');
    const editor = document.createElement('div');
    editor.className = 'editor';
    const ta = document.createElement('textarea');
    ta.value = m.content; ta.rows = Math.min(10, Math.max(2, m.content.split('\n').length)); ta.setAttribute('aria-label', 'edit message');
    const ok = document.createElement('button');
    ok.type = 'button'; ok.className = 'resend'; ok.textContent = 'Send';
    const cancel = document.createElement('button');
    cancel.type = 'button'; cancel.className = 'cancel-edit'; cancel.textContent = 'Cancel';
    editor.append(ta, ok, cancel);
    body.replaceWith(editor);
    div.querySelector('.actions').hidden = true;
    ta.focus();
    cancel.addEventListener('click', renderConversation);
    const resend = () => {
      if (running) return;
      const text = ta.value.trim();
      if (!text && !(m.images && m.images.length) && !(m.audio && m.audio.length)) return;
      const conv = current;
      conv.messages = conv.messages.slice(0, i);
      conv.messages.push(Object.assign({}, m, { content: text }));
      if (i === 0) conv.title = titleOf(text, m.images, m.audio);
      generate(conv);
    };
    ok.addEventListener('click', resend);
    ta.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); resend(); } else if (e.key === 'Escape') renderConversation();
    });
  }

  function regenerate() {
    const conv = current;
    if (!conv || running) return;
    while (conv.messages.length && conv.messages[conv.messages.length - 1].role === 'assistant') conv.messages.pop();
    if (!conv.messages.length) return;
    generate(conv);
  }

  // --- images: attached with the button, pasted into the message box, or dropped anywhere on the page. Each is read
  // as a data: URL (shown as is) whose base64 part is what the Ollama API takes. The server decodes and checks it.
  function renderPending() {
    attachmentsEl.innerHTML = '';
    pending.forEach((im, i) => {
      const item = document.createElement('span');
      item.className = 'attachment';
      item.appendChild(thumbnail(im));
      const x = document.createElement('button');
      x.type = 'button'; x.className = 'remove'; x.textContent = '×'; x.title = 'Remove ' + im.name;
      x.addEventListener('click', () => { pending.splice(i, 1); renderPending(); });
      item.appendChild(x);
      attachmentsEl.appendChild(item);
    });
  }
  function readAsDataUrl(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(r.result);
      r.onerror = () => reject(r.error);
      r.readAsDataURL(file);
    });
  }
  async function attach(files) {
    if (files.length && !can('vision')) { setStatus(cannot('vision')); return; }
    for (const f of files) {
      if (!f.type.startsWith('image/')) { setStatus((f.name || 'that file') + ' is not an image; attach PNG, JPEG, GIF, BMP or WebP.'); continue; }
      try {
        pending.push({ name: f.name || 'pasted image', dataUrl: await readAsDataUrl(f) });
      } catch (e) { setStatus('Cannot read ' + f.name + ': ' + e); }
    }
    renderPending();
  }
  function imageFiles(dt) { return dt ? Array.from(dt.files || []) : []; }

  // The sampling options come from settings.js: only the fields the user set, checked against the server's bounds. A
  // value the server would refuse stops the send here, with the server's rule, and its field is shown.
  function settingsOrSay() {
    const s = JemmaSettings.collect();
    if (s.error) { setStatus(s.error); JemmaSettings.reveal(s.name); return null; }
    return s;
  }

  function busy(on) {
    sendEl.disabled = on; stopEl.disabled = !on; modelEl.disabled = on;
    document.body.classList.toggle('busy', on);
  }

  // --- audio: WAV files and microphone recordings travel as base64 WAV in Jemma's Ollama field messages[i].audio
  function showAudio() {
    $('audio-attachments').textContent = pendingAudio.length ? 'Audio for the next message: ' +
      pendingAudio.map((a) => a.name).join(', ') : '';
  }
  function toBase64(bytes) {
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(bin);
  }
  // 16-bit PCM mono WAV of Float32 samples (the server resamples to 16 kHz)
  function wavBytes(samples, rate) {
    const buf = new ArrayBuffer(44 + 2 * samples.length), v = new DataView(buf);
    const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
    str(0, 'RIFF'); v.setUint32(4, 36 + 2 * samples.length, true); str(8, 'WAVE'); str(12, 'fmt ');
    v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true); v.setUint32(24, rate, true);
    v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true); str(36, 'data');
    v.setUint32(40, 2 * samples.length, true);
    for (let i = 0; i < samples.length; i++) {
      const x = Math.max(-1, Math.min(1, samples[i]));
      v.setInt16(44 + 2 * i, x < 0 ? x * 32768 : x * 32767, true);
    }
    return new Uint8Array(buf);
  }
  $('attach-audio').addEventListener('click', () => { if (can('audio')) $('audio-file').click(); else setStatus(cannot('audio')); });
  $('audio-file').addEventListener('change', async (e) => {
    if (e.target.files.length && !can('audio')) { setStatus(cannot('audio')); e.target.value = ''; return; }
    for (const f of e.target.files) {
      pendingAudio.push({ name: f.name, data: toBase64(new Uint8Array(await f.arrayBuffer())) });
    }
    e.target.value = '';
    showAudio();
  });
  async function startRecording() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      setStatus('This browser cannot record here (the microphone needs https or localhost).');
      return;
    }
    let stream;
    try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch (err) {
      setStatus('No microphone: ' + err.message);
      return;
    }
    const ctx = new AudioContext(), source = ctx.createMediaStreamSource(stream);
    const node = ctx.createScriptProcessor(4096, 1, 1), chunks = [];
    node.onaudioprocess = (ev) => chunks.push(new Float32Array(ev.inputBuffer.getChannelData(0)));
    source.connect(node); node.connect(ctx.destination);
    recorder = { stream, ctx, node, source, chunks };
    $('record').textContent = 'Stop recording'; $('record').classList.add('recording');
    setStatus('Recording… (at most 30 s are heard)');
  }
  function stopRecording() {
    const r = recorder; recorder = null;
    r.node.disconnect(); r.source.disconnect(); r.stream.getTracks().forEach((t) => t.stop());
    let n = 0; for (const c of r.chunks) n += c.length;
    const all = new Float32Array(n); let at = 0;
    for (const c of r.chunks) { all.set(c, at); at += c.length; }
    const rate = r.ctx.sampleRate; r.ctx.close();
    $('record').textContent = 'Record'; $('record').classList.remove('recording');
    if (!n) { setStatus('Nothing was recorded.'); return; }
    pendingAudio.push({ name: 'recording (' + (n / rate).toFixed(1) + ' s)', data: toBase64(wavBytes(all, rate)) });
    setStatus('');
    showAudio();
  }
  $('record').addEventListener('click', () => {
    if (recorder) stopRecording();
    else if (can('audio')) startRecording();
    else setStatus(cannot('audio'));
  });

  // --- asking: the user's turn joins the conversation, then generate() streams the answer to it
  async function send(text, images, audio) {
    const model = chatModel();
    if (!model) {
      setStatus(Array.from(modelEl.options).some((o) => !o.disabled) ? 'Pick a chat model first.'
        : 'No chat model is served here: start the server with one (jemma serve -m MODEL).');
      return false;
    }
    let conv = current;
    if (!conv) {
      conv = { id: newId(), title: titleOf(text, images, audio), model, created: Date.now(), updated: Date.now(), messages: [] };
      conversations.push(conv);
      current = conv;
      localStorage.setItem('jemma.current', conv.id);
    }
    const turn = { role: 'user', content: text };
    if (images.length) turn.images = images;
    if (audio.length) turn.audio = audio;
    conv.messages.push(turn);
    generate(conv);
    return true;
  }

  // What the API receives: the conversation as Ollama messages (images as bare base64, audio as base64 WAV).
  function apiMessages(conv) {
    return conv.messages.map((m) => {
      const o = { role: m.role, content: m.content };
      if (m.images && m.images.length) o.images = m.images.map((im) => im.dataUrl.slice(im.dataUrl.indexOf(',') + 1));
      if (m.audio && m.audio.length) o.audio = m.audio.map((a) => a.data);
      return o;
    });
  }

  async function generate(conv) {
    const model = chatModel();
    if (!model) { setStatus('Pick a chat model first.'); renderConversation(); return; }
    if (recorder) stopRecording();
    const settings = settingsOrSay();
    if (!settings) { renderConversation(); return; }
    conv.model = model;
    const body = JemmaSettings.body({ model, messages: apiMessages(conv), stream: true, options: settings.options }, settings.seed);
    const answer = { role: 'assistant', content: '' };
    conv.messages.push(answer);
    const controller = new AbortController();
    running = { conv, controller, answer };
    busy(true);
    await save(conv);
    renderConversation();
    renderSidebar();
    const shown = () => current === conv;
    let out = messagesEl.lastElementChild;
    out.classList.add('streaming');
    const content = out.querySelector('.content');
    setStatus('Thinking…');
    let failed = null;
    try {
      const r = await api('/api/chat', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: controller.signal, body
      });
      if (!r.ok) {
        let msg = r.status + ' ' + r.statusText;
        try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
        throw new Error(msg);
      }
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim(); buf = buf.slice(nl + 1);
          if (!line) continue;
          const chunk = JSON.parse(line);
          if (chunk.error) throw new Error(chunk.error);
          if (chunk.message && chunk.message.content) {
            answer.content += chunk.message.content;
            if (shown()) {
              showMarkdown(content, answer.content);
              messagesEl.scrollTop = messagesEl.scrollHeight;
              setStatus('Generating…');
            }
          }
          if (chunk.done) {
            answer.stats = { eval_count: chunk.eval_count, eval_duration: chunk.eval_duration,
              prompt_eval_count: chunk.prompt_eval_count, done_reason: chunk.done_reason };
          }
        }
      }
      if (shown()) setStatus('');
      JemmaSettings.refreshDefaults();   // the model is loaded now: its defaults become the placeholders
    } catch (e) {
      if (e.name === 'AbortError') {
        answer.stopped = true;
        if (shown()) setStatus('Stopped.');
      } else {
        failed = e.message;
      }
    } finally {
      // Keep whatever was produced (also after Stop) so the next turn continues the same conversation; a request
      // that failed leaves no answer, and the page offers to ask again.
      if (failed !== null && !answer.content) conv.messages.pop();
      await save(conv);
      running = null;
      busy(false);
      if (shown()) {
        renderConversation();
        if (failed !== null) {
          const err = document.createElement('div');
          err.className = 'msg error';
          err.textContent = 'Error: ' + failed;
          messagesEl.appendChild(err);
          setStatus('');
        }
        inputEl.focus();
      }
      renderSidebar();
    }
  }

  $('composer').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (recorder) stopRecording();
    const text = inputEl.value.trim();
    if ((!text && !pending.length && !pendingAudio.length) || running) return;
    // a setting the server would refuse keeps the message in the box until it is fixed
    if (!settingsOrSay()) return;
    const images = pending, audio = pendingAudio;
    if (!chatModel()) { await send(text, images, audio); return; }
    // attached before another model was picked: kept, so that picking a fitting model again sends them
    if (images.length && !can('vision')) { setStatus(cannot('vision') + ' Remove the attached images or pick another model.'); return; }
    if (audio.length && !can('audio')) { setStatus(cannot('audio') + ' Pick another model, or start a new chat to drop the audio.'); return; }
    inputEl.value = '';
    pending = []; renderPending();
    pendingAudio = []; showAudio();
    await send(text, images, audio);
  });
  $('attach').addEventListener('click', () => { if (can('vision')) fileEl.click(); else setStatus(cannot('vision')); });
  fileEl.addEventListener('change', () => { attach(Array.from(fileEl.files)); fileEl.value = ''; });
  inputEl.addEventListener('paste', (e) => {
    const files = imageFiles(e.clipboardData);
    if (!files.length) return;      // plain text pastes as usual
    e.preventDefault();
    attach(files);
  });
  document.addEventListener('dragover', (e) => {
    if (!e.dataTransfer || !Array.from(e.dataTransfer.types || []).includes('Files')) return;
    e.preventDefault();
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', (e) => { if (!e.relatedTarget) document.body.classList.remove('dragging'); });
  document.addEventListener('drop', (e) => {
    document.body.classList.remove('dragging');
    const files = imageFiles(e.dataTransfer);
    if (!files.length) return;
    e.preventDefault();
    attach(files);
  });
  inputEl.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('composer').requestSubmit(); }
  });
  stopEl.addEventListener('click', () => { if (running) running.controller.abort(); });
  $('new-chat').addEventListener('click', newChat);
  loadModels().then(() => JemmaSettings.init({ api, model: chatModel, setStatus, modelSelect: modelEl })).then(loadConversations);
})();
