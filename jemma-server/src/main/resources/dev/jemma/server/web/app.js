// Jemma web chat: vanilla JS, no build step. Talks to the server's own Ollama API (/api/tags, /api/chat); images go
// as Ollama's base64 `images` of the user message.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const messagesEl = $('messages'), inputEl = $('input'), sendEl = $('send'), stopEl = $('stop');
  const modelEl = $('model'), statusEl = $('status'), tempEl = $('temperature'), maxEl = $('max-tokens');
  const attachmentsEl = $('attachments'), fileEl = $('image-file');
  let history = [];           // [{role, content, images?}] of the current conversation (images: base64, sent every turn)
  let controller = null;      // AbortController of the running request
  let pending = [];           // images attached to the next message: [{name, dataUrl}]

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

  async function loadModels() {
    try {
      const r = await api('/api/tags');
      const body = await r.json();
      modelEl.innerHTML = '';
      for (const m of body.models || []) {
        const o = document.createElement('option');
        o.value = m.name; o.textContent = m.name;
        modelEl.appendChild(o);
      }
      if (!modelEl.options.length) setStatus('No models: start the server with -m MODEL or run jemma pull.');
    } catch (e) { setStatus('Cannot list models: ' + e); }
  }

  // --- a small, safe markdown renderer: escapes HTML first, then adds code blocks, inline code, bold, italics,
  // headings, lists and links (http/https only). Enough for readable chat answers.
  function escapeHtml(s) {
    return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  }
  function inline(s) {
    return s
      .replace(/`([^`\n]+)`/g, (m, c) => '<code>' + c + '</code>')
      .replace(/\*\*([^*\n]+)\*\*/g, '<strong>$1</strong>')
      .replace(/(^|[^*])\*([^*\n]+)\*/g, '$1<em>$2</em>')
      .replace(/\[([^\]\n]+)\]\((https?:\/\/[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>');
  }
  function renderMarkdown(src) {
    const parts = src.split(/```/);
    let html = '';
    parts.forEach((part, i) => {
      if (i % 2 === 1) {            // inside a fence (an unclosed fence while streaming still renders as code)
        const nl = part.indexOf('\n');
        const lang = nl >= 0 ? part.slice(0, nl).trim() : '';
        const code = nl >= 0 ? part.slice(nl + 1) : part;
        html += '<pre><code' + (lang ? ' class="language-' + escapeHtml(lang) + '"' : '') + '>' +
                escapeHtml(code) + '</code></pre>';
        return;
      }
      let list = null;
      for (const raw of escapeHtml(part).split('\n')) {
        const line = raw.trimEnd();
        const li = line.match(/^\s*(?:[-*]|\d+\.)\s+(.*)$/);
        if (li) {
          if (!list) { list = /^\s*\d/.test(line) ? 'ol' : 'ul'; html += '<' + list + '>'; }
          html += '<li>' + inline(li[1]) + '</li>';
          continue;
        }
        if (list) { html += '</' + list + '>'; list = null; }
        const h = line.match(/^(#{1,4})\s+(.*)$/);
        if (h) html += '<h' + (h[1].length + 2) + '>' + inline(h[2]) + '</h' + (h[1].length + 2) + '>';
        else if (line.trim()) html += '<p>' + inline(line) + '</p>';
      }
      if (list) html += '</' + list + '>';
    });
    return html;
  }

  window.jemmaRenderMarkdown = renderMarkdown; // for the browser test

  function addMessage(role, text, images) {
    const div = document.createElement('div');
    div.className = 'msg ' + role;
    if (role === 'assistant') div.innerHTML = renderMarkdown(text); else div.textContent = text;
    if (images && images.length) {
      const strip = document.createElement('div');
      strip.className = 'images';
      for (const im of images) strip.appendChild(thumbnail(im));
      div.insertBefore(strip, div.firstChild);
    }
    messagesEl.appendChild(div);
    messagesEl.scrollTop = messagesEl.scrollHeight;
    return div;
  }

  // --- images: attached with the button, pasted into the message box, or dropped anywhere on the page. Each is read
  // as a data: URL (shown as is) whose base64 part is what the Ollama API takes. The server decodes and checks it.
  function thumbnail(im) {
    const img = document.createElement('img');
    img.className = 'thumb';
    img.src = im.dataUrl;
    img.alt = im.name;
    img.title = im.name;
    return img;
  }
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
    for (const f of files) {
      if (!f.type.startsWith('image/')) { setStatus((f.name || 'that file') + ' is not an image; attach PNG, JPEG, GIF, BMP or WebP.'); continue; }
      try {
        pending.push({ name: f.name || 'pasted image', dataUrl: await readAsDataUrl(f) });
      } catch (e) { setStatus('Cannot read ' + f.name + ': ' + e); }
    }
    renderPending();
  }
  function imageFiles(dt) { return dt ? Array.from(dt.files || []) : []; }

  function options() {
    const o = { temperature: parseFloat(tempEl.value) || 0 };
    const n = parseInt(maxEl.value, 10);
    if (n > 0) o.num_predict = n;
    return o;
  }

  function busy(on) {
    sendEl.disabled = on; stopEl.disabled = !on; modelEl.disabled = on;
  }

  async function send(text, images) {
    const model = modelEl.value;
    if (!model) { setStatus('Pick a model first.'); return; }
    const turn = { role: 'user', content: text };
    if (images.length) turn.images = images.map((im) => im.dataUrl.slice(im.dataUrl.indexOf(',') + 1));
    history.push(turn);
    addMessage('user', text, images);
    const out = addMessage('assistant', '');
    out.classList.add('streaming');
    let answer = '';
    controller = new AbortController();
    busy(true);
    setStatus('Thinking…');
    try {
      const r = await api('/api/chat', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: controller.signal,
        body: JSON.stringify({ model, messages: history, stream: true, options: options() })
      });
      if (!r.ok) {
        let msg = r.status + ' ' + r.statusText;
        try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
        throw new Error(msg);
      }
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buf = '', final = null;
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
            answer += chunk.message.content;
            out.innerHTML = renderMarkdown(answer);
            messagesEl.scrollTop = messagesEl.scrollHeight;
            setStatus('Generating…');
          }
          if (chunk.done) final = chunk;
        }
      }
      if (final) {
        const secs = (final.eval_duration || 0) / 1e9;
        const meta = document.createElement('div');
        meta.className = 'meta';
        meta.textContent = final.eval_count + ' tokens' + (secs > 0 ? ', ' + (final.eval_count / secs).toFixed(1) +
          ' tokens/s' : '') + ' · prompt ' + final.prompt_eval_count + ' new tokens';
        out.appendChild(meta);
      }
      setStatus('');
    } catch (e) {
      if (e.name === 'AbortError') setStatus('Stopped.');
      else { addMessage('error', 'Error: ' + e.message); setStatus(''); }
    } finally {
      out.classList.remove('streaming');
      // Keep whatever was produced (also after Stop) so the next turn continues the same conversation.
      history.push({ role: 'assistant', content: answer });
      controller = null;
      busy(false);
      inputEl.focus();
    }
  }

  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = inputEl.value.trim();
    if ((!text && !pending.length) || controller) return;
    const images = pending;
    inputEl.value = '';
    pending = [];
    renderPending();
    send(text, images);
  });
  $('attach').addEventListener('click', () => fileEl.click());
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
  stopEl.addEventListener('click', () => { if (controller) controller.abort(); });
  $('new-chat').addEventListener('click', () => {
    if (controller) controller.abort();
    history = []; pending = []; renderPending(); messagesEl.innerHTML = ''; setStatus(''); inputEl.focus();
  });
  loadModels();
})();
