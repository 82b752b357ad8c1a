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
  let pendingAudio = [];      // [{name, data}] WAV clips (base64) for the next message
  let recorder = null;        // the microphone recording in progress

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
  $('attach-audio').addEventListener('click', () => $('audio-file').click());
  $('audio-file').addEventListener('change', async (e) => {
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
  $('record').addEventListener('click', () => { if (recorder) stopRecording(); else startRecording(); });

  async function send(text, images) {
    const model = modelEl.value;
    if (!model) { setStatus('Pick a model first.'); return; }
    if (recorder) stopRecording();
    const turn = { role: 'user', content: text };
    if (images.length) turn.images = images.map((im) => im.dataUrl.slice(im.dataUrl.indexOf(',') + 1));
    if (pendingAudio.length) {
      turn.audio = pendingAudio.map((a) => a.data);
      text = text + '\n[' + pendingAudio.map((a) => '🎤 ' + a.name).join(', ') + ']';
      pendingAudio = []; showAudio();
    }
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
    if ((!text && !pending.length && !pendingAudio.length && !recorder) || controller) return;
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
    history = []; pending = []; renderPending(); pendingAudio = []; showAudio(); messagesEl.innerHTML = ''; setStatus(''); inputEl.focus();
  });
  loadModels();
})();
