/*
 * The collector's page (collector/http/dashboard.ts): plain JavaScript, no framework, no build step.
 * It reads the API every few seconds (any replica answers from the store; unchanged answers are 304)
 * and draws drift timelines with uPlot. Everything a device chose (names, evidence, class labels)
 * goes into the page through esc() or as a text node, never as markup.
 */
/* global document, window, fetch, sessionStorage, location, history, URLSearchParams, uPlot, devicePixelRatio */
'use strict';

(() => {
  const REFRESH_MS = 5000;
  const HOUR = 3600e3;
  /** Windows a timeline shows at most: a day of 5-minute windows fits many times over. */
  const TIMELINE_LIMIT = 2000;
  const VERDICTS = new Set(['ok', 'warn', 'alert', 'insufficient', 'unscored']);
  const SEVERITIES = new Set(['info', 'warning', 'critical']);
  const FAMILIES = ['illumination', 'colour', 'focus', 'geometry', 'model'];
  const FAMILY_COLOURS = { illumination: '#e69f00', colour: '#cc79a7', focus: '#0072b2', geometry: '#009e73', model: '#6a3d9a' };
  const ACK_TOKEN = 'driftline.ackToken';
  const ACK_BY = 'driftline.ackBy';
  const REVIEW_TOKEN = 'driftline.reviewToken';
  const ID = /^[0-9a-f]{16}$/;

  const $ = (sel) => document.querySelector(sel);
  const seg = encodeURIComponent;
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const pad = (n) => String(n).padStart(2, '0');
  const fmt = (iso) => {
    const d = new Date(iso);
    if (!iso || Number.isNaN(d.getTime())) return '';
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  };
  const timeHtml = (iso) => (iso && fmt(iso) ? `<time datetime="${esc(iso)}">${esc(fmt(iso))}</time>` : '<span class="muted">—</span>');
  const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x.toPrecision(3) : '—');
  const span = (ms) => (ms < 120e3 ? `${Math.round(ms / 1000)} s` : ms < 2 * HOUR ? `${Math.round(ms / 60e3)} min` : `${(ms / HOUR).toFixed(1)} h`);
  const verdictOf = (v) => (VERDICTS.has(v) ? v : 'none');
  const severityOf = (s) => (SEVERITIES.has(s) ? s : 'info');
  /**
   * Deferred scripts run before DOMContentLoaded: this one first, so its requests start while uPlot
   * (the next script) is still arriving, and charts are drawn once the document says it is loaded.
   */
  const loaded = new Promise((resolve) => (document.readyState === 'loading' ? document.addEventListener('DOMContentLoaded', resolve, { once: true }) : resolve()));
  const marked = new Set();
  /** A performance mark the first time only: the benchmark reads them (bench/page.bench.ts). */
  const markOnce = (name) => {
    if (marked.has(name)) return;
    marked.add(name);
    performance.mark(name);
  };

  function status(text, error = false) {
    const el = $('#status');
    el.textContent = text;
    el.classList.toggle('error', error);
  }

  async function request(url) {
    const r = await fetch(url, { headers: { accept: 'application/json' } });
    if (!r.ok) {
      let message = r.statusText;
      try {
        message = (await r.json()).message || message;
      } catch {
        // not JSON: the status text says enough
      }
      throw Object.assign(new Error(`${url}: ${r.status} ${message}`), { status: r.status });
    }
    return r;
  }
  const getJson = async (url) => (await request(url)).json();

  /** Every page of a list route, following x-next-cursor. */
  async function getAll(url) {
    const rows = [];
    let next = url;
    for (let i = 0; next && i < 1000; i++) {
      const r = await request(next);
      rows.push(...(await r.json()));
      const cursor = r.headers.get('x-next-cursor');
      next = cursor ? `${url}${url.includes('?') ? '&' : '?'}cursor=${seg(cursor)}` : undefined;
    }
    return rows;
  }

  /** Runs `fn` now and then every REFRESH_MS after it finished, skipping while the tab is hidden. */
  function every(fn) {
    const tick = async () => {
      if (!document.hidden) {
        try {
          await fn();
          status(`Live: updated ${fmt(new Date().toISOString())}, every ${REFRESH_MS / 1000} s.`);
        } catch (e) {
          status(`Could not refresh: ${e.message}. Trying again in ${REFRESH_MS / 1000} s.`, true);
        }
      }
      window.setTimeout(tick, REFRESH_MS);
    };
    window.setTimeout(tick, REFRESH_MS);
  }

  const camKey = (c) => `${c.site}/${c.device}/${c.camera}`;
  const camPage = (c) => `/?site=${seg(c.site)}&device=${seg(c.device)}&camera=${seg(c.camera)}`;
  const camApi = (c) => `/api/v1/cameras/${seg(c.site)}/${seg(c.device)}/${seg(c.camera)}`;
  const alertLink = (a, text) => (ID.test(a.id) ? `<a href="/alerts/${a.id}" data-alert="${a.id}">${esc(text)}</a>` : esc(text));
  const driftStartOf = (a) => {
    const d = a && a.evidence && a.evidence.driftStart;
    return d && typeof d.start === 'string' ? d : undefined;
  };
  const causeOf = (a) => {
    const c = a.evidence && a.evidence.cause;
    return c && c.class ? `${c.class}${c.fault ? ` (${c.fault})` : ''}` : '';
  };
  const ackText = (a) => (a.ack ? `${a.ack.by}, ${fmt(a.ack.at)}${a.ack.comment ? `: ${a.ack.comment}` : ''}` : 'no');

  // ---------------------------------------------------------------- timeline (both pages)

  /** One camera's drift level over time, with the thresholds and the drift's start drawn. */
  class Timeline {
    constructor(cam, o = {}) {
      this.cam = cam;
      this.o = o; // alert: the alert whose times to mark; before: a seq, for a fixed stretch of history
      this.rows = [];
      this.detail = undefined;
      this.plot = undefined;
      this.el = $('#chart');
      window.addEventListener('resize', () => this.plot && this.plot.setSize({ width: this.width(), height: 320 }));
    }

    width() {
      return Math.max(320, this.el.clientWidth || 900);
    }

    /** The day before now (or a fixed stretch of history); a camera silent for longer shows the day before its last window. */
    async load() {
      const day = (end) => `since=${new Date(end - 24 * HOUR).toISOString()}&limit=${TIMELINE_LIMIT}`;
      const q = this.o.before ? `before=${this.o.before}&limit=${TIMELINE_LIMIT}` : day(Date.now());
      const [detail, rows] = await Promise.all([getJson(camApi(this.cam)), getJson(`${camApi(this.cam)}/timeline?${q}`)]);
      this.detail = detail;
      this.rows = rows;
      if (!rows.length && !this.o.before && detail.lastEnd) this.rows = await getJson(`${camApi(this.cam)}/timeline?${day(Date.parse(detail.lastEnd))}`);
      await loaded;
      this.draw();
    }

    /** The windows that arrived since the last one shown. */
    async poll() {
      if (this.o.before) return;
      const last = this.rows[this.rows.length - 1];
      const since = new Date(last ? Date.parse(last.end) + 1 : Date.now() - 24 * HOUR).toISOString();
      const [detail, rows] = await Promise.all([getJson(camApi(this.cam)), getJson(`${camApi(this.cam)}/timeline?since=${since}&limit=${TIMELINE_LIMIT}`)]);
      this.detail = detail;
      const seen = new Set(this.rows.map((r) => r.seq));
      const fresh = rows.filter((r) => !seen.has(r.seq));
      if (fresh.length) this.rows = this.rows.concat(fresh).sort((a, b) => a.seq - b.seq).slice(-TIMELINE_LIMIT);
      this.draw();
    }

    /** The drift alert to mark: the page's alert, else the camera's firing one. */
    alert() {
      return this.o.alert || (this.detail.alerts || []).find((a) => a.rule === 'drift');
    }

    /** Without an alert: where the current run of drifting windows began (insufficient windows do not end it). */
    runStart() {
      let first;
      for (let i = this.rows.length - 1; i >= 0; i--) {
        const s = this.rows[i].status;
        if (s === 'ok') break;
        if (s === 'warn' || s === 'alert') first = this.rows[i];
      }
      return first;
    }

    markers() {
      const out = [];
      const a = this.alert();
      const start = driftStartOf(a);
      if (start) out.push({ t: Date.parse(start.start) / 1000, label: 'drift started', colour: '#8a5a00' });
      if (a) out.push({ t: Date.parse(a.startsAt) / 1000, label: 'alert fired', colour: '#b03a2e' });
      if (a && a.endsAt) out.push({ t: Date.parse(a.endsAt) / 1000, label: 'resolved', colour: '#186a3b' });
      if (!a) {
        const run = this.runStart();
        if (run) out.push({ t: Date.parse(run.start) / 1000, label: 'drifting since', colour: '#8a5a00' });
      }
      return out.filter((m) => Number.isFinite(m.t));
    }

    describe() {
      const a = this.alert();
      const start = driftStartOf(a);
      const p = $('#timeline-drift');
      const latest = this.detail.lastStatus ? `Latest window: ${verdictOf(this.detail.lastStatus)}, ${fmt(this.detail.lastEnd)}.` : 'No window yet.';
      if (a && start) {
        const lag = Date.parse(a.startsAt) - Date.parse(start.start);
        p.innerHTML = `${esc(latest)} Drift started ${timeHtml(start.start)} (window ${esc(start.seq)}); the ${esc(a.state === 'resolved' ? 'resolved' : 'firing')} alert fired ${timeHtml(a.startsAt)}${Number.isFinite(lag) ? `, ${esc(span(lag))} later` : ''}${a.endsAt ? `, and resolved ${timeHtml(a.endsAt)}` : ''}. ${this.o.alert ? '' : alertLink(a, 'Alert details')}`;
      } else if (a) {
        p.innerHTML = `${esc(latest)} The alert fired ${timeHtml(a.startsAt)}. ${this.o.alert ? '' : alertLink(a, 'Alert details')}`;
      } else {
        const run = this.runStart();
        p.innerHTML = `${esc(latest)}${run ? ` Drifting since ${timeHtml(run.start)} (window ${esc(run.seq)}); no alert yet.` : ''}`;
      }
    }

    draw() {
      const rows = [...this.rows].sort((a, b) => Date.parse(a.end) - Date.parse(b.end));
      const lv = this.detail.levels;
      const xs = rows.map((r) => Date.parse(r.end) / 1000);
      const level = rows.map((r) => (typeof r.level === 'number' ? r.level : null));
      const only = (v) => rows.map((r, i) => (r.status === v ? level[i] : null));
      const families = [...FAMILIES, ...new Set(rows.flatMap((r) => Object.keys(r.familyScores || {})).filter((f) => !FAMILIES.includes(f)))].filter((f) => rows.some((r) => r.familyScores && typeof r.familyScores[f] === 'number'));
      const data = [xs, level, xs.map(() => lv.warn), xs.map(() => lv.alert), only('warn'), only('alert'), ...families.map((f) => rows.map((r) => (r.familyScores && typeof r.familyScores[f] === 'number' ? r.familyScores[f] : null)))];
      this.marks = this.markers();
      const el = this.el;
      el.dataset.warn = String(lv.warn);
      el.dataset.alert = String(lv.alert);
      el.dataset.windows = String(rows.length);
      el.dataset.camera = camKey(this.cam);
      el.setAttribute('role', 'img');
      const last = rows[rows.length - 1];
      el.setAttribute('aria-label', rows.length ? `Drift level of camera ${camKey(this.cam)}: ${rows.length} windows from ${fmt(rows[0].end)} to ${fmt(last.end)}; latest verdict ${verdictOf(last.status)}, level ${num(last.level)}. Warn threshold at ${lv.warn}, alert threshold at ${lv.alert}.` : `No windows of camera ${camKey(this.cam)} yet.`);
      const key = families.join(',');
      if (this.plot && this.plotKey === key) this.plot.setData(data);
      else {
        if (this.plot) this.plot.destroy();
        this.plotKey = key;
        const top = Math.max(...level.filter((x) => x !== null), 0);
        const series = [
          { label: 'window end' },
          { label: 'level', stroke: '#555', width: 1.5, spanGaps: false, points: { show: false } },
          { label: `warn (${lv.warn})`, stroke: '#b9770e', dash: [6, 4], width: 1.5, points: { show: false } },
          { label: `alert (${lv.alert})`, stroke: '#b03a2e', dash: [6, 4], width: 1.5, points: { show: false } },
          { label: 'warn windows', stroke: '#b9770e', paths: () => null, points: { show: true, size: 7, fill: '#e0a526' } },
          { label: 'alert windows', stroke: '#b03a2e', paths: () => null, points: { show: true, size: 7, fill: '#d9534f' } },
          ...families.map((f) => ({ label: f, stroke: FAMILY_COLOURS[f] || '#888', width: 1, show: false, points: { show: false } })),
        ];
        const marks = () => this.marks;
        // The x range takes in the marks too (an alert fires just after its window ends). The level
        // axis is linear up to the alert line and logarithmic beyond (arcsinh), so a level of 40 does
        // not squash the two thresholds into the floor.
        const xRange = (u, min, max) => {
          const ts = marks().map((m) => m.t);
          return [Math.min(min ?? Infinity, ...ts), Math.max(max ?? -Infinity, ...ts)];
        };
        this.plot = new uPlot(
          {
            width: this.width(),
            height: 320,
            scales: { x: { time: true, range: xRange }, y: { distr: 4, asinh: lv.alert, range: (u, min, max) => [0, Math.max(lv.alert * 1.25, (max ?? top) * 1.08)] } },
            axes: [{}, { label: 'level (warn 1, alert 2)' }],
            series,
            hooks: { draw: [(u) => drawMarks(u, marks())] },
          },
          data,
          el,
        );
      }
      el.dataset.ready = '1';
      this.describe();
      markOnce('timeline-rendered');
    }
  }

  /** Vertical dotted lines with a label: where the drift started, when the alert fired. */
  function drawMarks(u, marks) {
    const ctx = u.ctx;
    const dpr = typeof devicePixelRatio === 'number' ? devicePixelRatio : 1;
    const { left, top, width, height } = u.bbox;
    marks.forEach((m, i) => {
      const x = u.valToPos(m.t, 'x', true);
      if (!(x >= left && x <= left + width)) return;
      ctx.save();
      ctx.strokeStyle = m.colour;
      ctx.fillStyle = m.colour;
      ctx.lineWidth = 1.5 * dpr;
      ctx.setLineDash([2 * dpr, 3 * dpr]);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      ctx.font = `${12 * dpr}px system-ui, sans-serif`;
      // The label beside its line, on the left of it where the right would leave the plot.
      const w = ctx.measureText(m.label).width;
      const right = x + 4 * dpr + w <= left + width;
      ctx.textAlign = right ? 'left' : 'right';
      ctx.fillText(m.label, right ? x + 4 * dpr : x - 4 * dpr, top + (14 + 14 * i) * dpr);
      ctx.restore();
    });
  }

  // ---------------------------------------------------------------- the fleet page

  function renderAlerts(alerts) {
    const rows = [...alerts].sort((a, b) => String(b.startsAt).localeCompare(String(a.startsAt)));
    $('#alerts tbody').innerHTML =
      rows
        .map((a) => {
          const start = driftStartOf(a);
          const sev = severityOf(a.severity);
          return `<tr data-alert="${esc(a.id)}" data-rule="${esc(a.rule)}"><td>${timeHtml(a.startsAt)}</td><td>${start ? timeHtml(start.start) : '<span class="muted">—</span>'}</td><td class="${sev}">${esc(sev)}</td><td>${alertLink(a, a.annotations && a.annotations.summary)}</td><td>${esc(causeOf(a))}</td><td>${esc(ackText(a))}</td></tr>`;
        })
        .join('') || '<tr><td colspan="6">none</td></tr>';
  }

  function renderFleet(devices, cameras, alerts, current) {
    const byDevice = new Map();
    for (const d of devices) byDevice.set(`${d.site}/${d.device}`, { d, cams: new Map((d.cameras || []).map((c) => [c, undefined])) });
    for (const c of cameras) {
      const k = `${c.site}/${c.device}`;
      if (!byDevice.has(k)) byDevice.set(k, { d: { site: c.site, device: c.device, state: 'unknown' }, cams: new Map() });
      byDevice.get(k).cams.set(c.camera, c);
    }
    const firing = new Map();
    for (const a of alerts) {
      const l = a.labels || {};
      const k = `${l.site}/${l.device}${l.camera ? `/${l.camera}` : ''}`;
      if (!firing.has(k)) firing.set(k, []);
      firing.get(k).push(a);
    }
    const links = (k) => (firing.get(k) || []).map((a) => ` <span class="alert-link ${severityOf(a.severity)}">${alertLink(a, `${a.rule} alert`)}</span>`).join('');
    const counts = { online: 0, offline: 0, cameras: 0 };
    const verdicts = {};
    const rows = [...byDevice.values()]
      .sort((a, b) => `${a.d.site}/${a.d.device}`.localeCompare(`${b.d.site}/${b.d.device}`))
      .map(({ d, cams }) => {
        if (d.state === 'online' || d.state === 'offline') counts[d.state]++;
        const wanted = d.providers && d.providers[0];
        const provider = d.provider ? `${esc(d.provider)}${wanted && wanted !== d.provider ? ` <span class="warn">(not ${esc(wanted)})</span>` : ''}` : '<span class="muted">—</span>';
        const model = d.model ? `<span title="sha256 ${esc(d.model.sha256)}">${esc(d.model.name)}@${esc(String(d.model.sha256 || '').slice(0, 12))}</span>` : '<span class="muted">—</span>';
        const chips = [...cams.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, c]) => {
            counts.cameras++;
            const v = verdictOf(c && c.lastStatus);
            verdicts[v] = (verdicts[v] || 0) + 1;
            const cam = { site: d.site, device: d.device, camera: name };
            const here = current && camKey(current) === camKey(cam);
            return `<li><a class="cam v-${v}" href="${esc(camPage(cam))}" data-site="${esc(d.site)}" data-device="${esc(d.device)}" data-camera="${esc(name)}" data-verdict="${v}"${here ? ' aria-current="true"' : ''}${c ? ` title="latest window ended ${esc(fmt(c.lastEnd))} (seq ${esc(c.lastSeq)})"` : ''}>${esc(name)} <span class="verdict ${v}">${v === 'none' ? 'no window yet' : v}</span></a>${links(`${d.site}/${d.device}/${name}`)}</li>`;
          })
          .join('');
        const state = ['online', 'offline'].includes(d.state) ? d.state : 'unknown';
        return `<tr data-site="${esc(d.site)}" data-device="${esc(d.device)}"><th scope="row">${esc(d.site)}/${esc(d.device)}${links(`${d.site}/${d.device}`)}</th><td class="${state}">${state}</td><td>${provider}</td><td>${model}</td><td>${esc(d.agent && d.agent.version)}</td><td>${timeHtml(d.lastSeen)}</td><td><ul class="cams">${chips}</ul></td></tr>`;
      });
    $('#fleet tbody').innerHTML = rows.join('') || '<tr><td colspan="7">No device has reported yet.</td></tr>';
    const v = Object.entries(verdicts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `${n} ${k === 'none' ? 'without a window yet' : k}`)
      .join(', ');
    const n = (k, word) => `${k} ${word}${k === 1 ? '' : 's'}`;
    $('#fleet-summary').textContent = `${n(byDevice.size, 'device')} (${counts.online} online, ${counts.offline} offline), ${n(counts.cameras, 'camera')}${v ? `: ${v}` : ''}.`;
  }

  async function fleetPage() {
    const selected = () => {
      const q = new URLSearchParams(location.search);
      const site = q.get('site');
      const device = q.get('device');
      const camera = q.get('camera');
      return site && device && camera ? { site, device, camera } : undefined;
    };
    let seen = '';
    let current = selected();
    let timeline;
    const refreshFleet = async () => {
      const [devices, cameras, alerts] = await Promise.all([getAll('/api/v1/devices?limit=10000'), getAll('/api/v1/cameras?limit=10000'), getAll('/api/v1/alerts?state=firing&limit=10000')]);
      // Rendered again only when something changed: a focused link keeps its focus between polls.
      const text = JSON.stringify([devices, cameras, alerts, current && camKey(current)]);
      if (text !== seen) {
        seen = text;
        renderAlerts(alerts);
        renderFleet(devices, cameras, alerts, current);
      }
      document.body.dataset.fleetReady = '1';
      markOnce('fleet-rendered');
    };
    const showTimeline = async () => {
      current = selected();
      const section = $('#timeline');
      if (!current) {
        section.hidden = true;
        timeline = undefined;
        return;
      }
      section.hidden = false;
      $('#timeline-h').textContent = `Drift timeline: ${camKey(current)}`;
      timeline = new Timeline(current);
      await timeline.load();
    };
    $('#fleet').addEventListener('click', (e) => {
      const a = e.target.closest('a.cam');
      if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      history.pushState({}, '', a.getAttribute('href'));
      seen = '';
      Promise.all([showTimeline(), refreshFleet()]).then(() => $('#timeline').scrollIntoView({ block: 'start' }), (err) => status(`Could not load the timeline: ${err.message}`, true));
    });
    window.addEventListener('popstate', () => {
      seen = '';
      Promise.all([showTimeline(), refreshFleet()]).catch((err) => status(`Could not load: ${err.message}`, true));
    });
    try {
      // The timeline's requests first: its chart is drawn while the collector answers the fleet's.
      await Promise.all([showTimeline(), refreshFleet()]);
      status(`Live: updated ${fmt(new Date().toISOString())}, every ${REFRESH_MS / 1000} s.`);
    } catch (e) {
      status(`Could not load: ${e.message}`, true);
    }
    every(() => Promise.all([refreshFleet(), timeline && timeline.poll()]));
  }

  // ---------------------------------------------------------------- the alert page

  function facts(a) {
    const l = a.labels || {};
    const start = driftStartOf(a);
    const runbook = a.annotations && a.annotations.runbook_url;
    const safeRunbook = typeof runbook === 'string' && /^(https?:\/\/|\/)/.test(runbook);
    const where = l.camera ? `<a href="${esc(camPage({ site: l.site, device: l.device, camera: l.camera }))}">${esc(l.site)}/${esc(l.device)}/${esc(l.camera)}</a>` : `${esc(l.site)}/${esc(l.device)}`;
    const items = [
      ['Severity', `<span class="${severityOf(a.severity)}">${esc(a.severity)}</span>`],
      ['State', `<span data-state="${esc(a.state)}">${esc(a.state)}</span>`],
      ['Rule', `${esc(a.rule)}${safeRunbook ? ` (<a href="${esc(runbook)}">runbook</a>)` : ''}`],
      ['Where', where],
      ['Drift started', start ? `${timeHtml(start.start)} (window ${esc(start.seq)})` : '<span class="muted">—</span>'],
      ['Fired', timeHtml(a.startsAt)],
      ['Resolved', a.endsAt ? timeHtml(a.endsAt) : '<span class="muted">not yet</span>'],
      ['Acknowledged', `<span id="ack-summary">${esc(ackText(a))}</span>`],
      ['Description', esc(a.annotations && a.annotations.description)],
      ['Labels', esc(Object.entries(l).map(([k, v]) => `${k}=${v}`).join(', '))],
    ];
    $('#alert-title').textContent = (a.annotations && a.annotations.summary) || a.id;
    document.title = `${a.rule} ${l.site}/${l.device}${l.camera ? `/${l.camera}` : ''} · Driftline collector`;
    $('#alert-facts').innerHTML = items.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('');
    $('#ack-state').textContent = a.ack ? `Acknowledged by ${a.ack.by} at ${fmt(a.ack.at)}${a.ack.comment ? `: ${a.ack.comment}` : ''}.` : a.state === 'resolved' ? 'Resolved without an acknowledgement.' : 'Not acknowledged yet.';
  }

  function evidence(a) {
    const e = a.evidence;
    const out = [];
    if (!e) {
      $('#evidence-body').innerHTML = '<p class="muted">This alert carries no evidence.</p>';
      return;
    }
    if (e.cause) out.push(`<h3>Cause: ${esc(causeOf(a))}</h3><p>${esc(e.cause.reason)}</p><p><strong>Next step:</strong> ${esc(e.cause.action)}</p>`);
    if (e.window) out.push(`<p>Latest window: seq ${esc(e.window.seq)}, ${timeHtml(e.window.start)} to ${timeHtml(e.window.end)}, ${esc(e.window.frames)} frames, verdict <span class="${verdictOf(e.window.status)}">${esc(e.window.status)}</span>.</p>`);
    if (Array.isArray(e.drivers) && e.drivers.length) {
      out.push(
        `<table id="drivers"><caption>Scores against their thresholds</caption><thead><tr><th scope="col">Score</th><th scope="col">Value</th><th scope="col">Warn</th><th scope="col">Alert</th><th scope="col">Level</th><th scope="col">Features out of support</th></tr></thead><tbody>${e.drivers
          .map((d) => `<tr><td>${esc(d.key)}</td><td>${num(d.value)}</td><td>${num(d.warn)}</td><td>${num(d.alert)}</td><td class="${verdictOf(d.level)}">${esc(d.level)}</td><td>${esc((d.features || []).join(', '))}</td></tr>`)
          .join('')}</tbody></table>`,
      );
    }
    if (Array.isArray(e.shifts) && e.shifts.length) {
      out.push(`<table id="shifts"><caption>Features furthest from the reference</caption><thead><tr><th scope="col">Feature</th><th scope="col">z (reference SDs)</th><th scope="col">Window mean</th></tr></thead><tbody>${e.shifts.map((s) => `<tr><td>${esc(s.feature)}</td><td>${num(s.z)}</td><td>${num(s.mean)}</td></tr>`).join('')}</tbody></table>`);
    }
    const known = new Set(['cause', 'window', 'drivers', 'shifts', 'reviewFrames', 'driftStart']);
    const rest = Object.fromEntries(Object.entries(e).filter(([k]) => !known.has(k)));
    if (Object.keys(rest).length) out.push(`<pre>${esc(JSON.stringify(rest, null, 2))}</pre>`);
    $('#evidence-body').innerHTML = out.join('');
  }

  const SVG = 'http://www.w3.org/2000/svg';

  /**
   * The review token is kept per agent (its origin): a token given for one agent is never sent to
   * another address a device announced.
   */
  const reviewTokenKey = (url) => `${REVIEW_TOKEN}:${new URL(url).origin}`;

  /** One review frame from its agent, as a blob (the agent sends CORS headers), with its boxes over it. */
  async function reviewFrame(url, fig) {
    const token = sessionStorage.getItem(reviewTokenKey(url));
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const [img, det] = await Promise.all([fetch(url, { headers }), fetch(`${url}/detections`, { headers })]);
    const caption = fig.querySelector('figcaption span');
    if (img.status === 401 || det.status === 401) {
      fig.dataset.state = 'token';
      caption.textContent = 'The agent wants its review token (http.reviewToken): enter it above.';
      return 'token';
    }
    if (!img.ok || !det.ok) {
      fig.dataset.state = 'failed';
      caption.textContent = `The agent answered ${img.ok ? det.status : img.status}: the frame may have been deleted for its disk cap.`;
      return 'failed';
    }
    const d = await det.json();
    const picture = fig.querySelector('img');
    await new Promise((resolve, reject) => {
      picture.onload = resolve;
      picture.onerror = () => reject(new Error('not an image'));
      img.blob().then((b) => {
        picture.src = URL.createObjectURL(b);
      }, reject);
    });
    const svg = fig.querySelector('svg');
    const w = d.width || picture.naturalWidth;
    const h = d.height || picture.naturalHeight;
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    const dets = Array.isArray(d.detections) ? d.detections : [];
    for (const x of dets) {
      const [x1, y1, x2, y2] = (x.box || []).map(Number);
      if (![x1, y1, x2, y2].every(Number.isFinite)) continue;
      const r = document.createElementNS(SVG, 'rect');
      r.setAttribute('x', String(x1));
      r.setAttribute('y', String(y1));
      r.setAttribute('width', String(Math.max(0, x2 - x1)));
      r.setAttribute('height', String(Math.max(0, y2 - y1)));
      if (x.oodDetection) r.setAttribute('class', 'ood');
      const t = document.createElementNS(SVG, 'text');
      t.setAttribute('x', String(x1 + 1));
      t.setAttribute('y', String(Math.max(9, y1 - 2)));
      t.textContent = `${x.class} ${num(x.score)}${x.oodDetection ? ' (unlike its class)' : ''}`;
      const title = document.createElementNS(SVG, 'title');
      title.textContent = t.textContent;
      r.appendChild(title);
      svg.append(r, t);
    }
    fig.dataset.boxes = String(svg.querySelectorAll('rect').length);
    fig.dataset.state = 'loaded';
    picture.alt = `Review frame ${d.file || ''} of camera ${d.camera || ''}, ${d.reason || ''}: ${dets.length} detections drawn`;
    caption.textContent = `${d.camera || ''} · ${fmt(d.time)} · ${d.reason || ''} · ${dets.length} detection${dets.length === 1 ? '' : 's'}: ${dets.map((x) => `${x.class} ${num(x.score)}`).join(', ')}`;
    return 'loaded';
  }

  async function review(a) {
    const body = $('#review-body');
    const frames = ((a.evidence && a.evidence.reviewFrames) || []).filter((u) => typeof u === 'string');
    if (!frames.length) {
      body.innerHTML = '<p class="muted">No review frame was saved in the alert\'s window.</p>';
      return;
    }
    const links = frames.filter((u) => /^https?:\/\//.test(u));
    const names = frames.filter((u) => !/^https?:\/\//.test(u));
    body.innerHTML = `<p id="review-token-ask" hidden>The agent at <code id="review-token-origin"></code> wants its review token (<code>http.reviewToken</code>). <label>Review token <input id="review-token" type="password" autocomplete="off"></label> <button type="button" id="review-token-use">Show the frames</button> (kept in this tab only, and sent to that agent only)</p><div class="frames">${links
      .map((u) => `<figure class="review" data-src="${esc(u)}"><div class="frame"><img alt="Review frame, loading"><svg class="boxes" xmlns="${SVG}" aria-hidden="true"></svg></div><figcaption><span>Loading from the agent…</span> <a href="${esc(u)}">open</a></figcaption></figure>`)
      .join('')}</div>${names.length ? `<p class="note">Frames kept on the device only (its agent sets no <code>mqtt.reviewUrl</code>): ${esc(names.join(', '))}</p>` : ''}`;
    let asking;
    const load = async () => {
      const figures = [...body.querySelectorAll('figure.review')].filter((f) => f.dataset.state !== 'loaded');
      const results = await Promise.all(
        figures.map((fig) =>
          reviewFrame(fig.dataset.src, fig).catch((e) => {
            fig.dataset.state = 'failed';
            fig.querySelector('figcaption span').textContent = `Could not load it from the agent (${e.message}): is the agent reachable from this browser?`;
            return 'failed';
          }),
        ),
      );
      const wants = figures.find((f, i) => results[i] === 'token');
      asking = wants && wants.dataset.src;
      $('#review-token-ask').hidden = !asking;
      if (asking) $('#review-token-origin').textContent = new URL(asking).origin;
    };
    $('#review-token-use').addEventListener('click', () => {
      const t = $('#review-token').value.trim();
      if (t && asking) sessionStorage.setItem(reviewTokenKey(asking), t);
      $('#review-token').value = '';
      load();
    });
    await load();
  }

  function history_(a, rows) {
    const others = rows.filter((x) => x.id !== a.id);
    $('#history tbody').innerHTML =
      others
        .map((x) => {
          const start = driftStartOf(x);
          return `<tr><td>${timeHtml(x.startsAt)}</td><td>${start ? timeHtml(start.start) : '<span class="muted">—</span>'}</td><td>${timeHtml(x.endsAt)}</td><td class="${severityOf(x.severity)}">${esc(x.severity)}</td><td>${alertLink(x, x.annotations && x.annotations.summary)}</td><td>${esc(ackText(x))}</td></tr>`;
        })
        .join('') || '<tr><td colspan="6">none</td></tr>';
  }

  function ackForm(id, show) {
    const form = $('#ack-form');
    const result = $('#ack-result');
    form.elements.token.value = sessionStorage.getItem(ACK_TOKEN) || '';
    form.elements.by.value = sessionStorage.getItem(ACK_BY) || '';
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const token = form.elements.token.value.trim();
      const by = form.elements.by.value.trim();
      const comment = form.elements.comment.value;
      if (!token || !by) {
        result.textContent = 'Your name and the acknowledge token are both needed.';
        return;
      }
      result.textContent = 'Sending…';
      let r;
      try {
        r = await fetch(`/api/v1/alerts/${id}/ack`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ by, comment }) });
      } catch (err) {
        result.textContent = `Could not reach the collector: ${err.message}`;
        return;
      }
      const body = await r.json().catch(() => ({}));
      if (r.ok) {
        sessionStorage.setItem(ACK_TOKEN, token);
        sessionStorage.setItem(ACK_BY, by);
        result.textContent = `Acknowledged by ${by}.`;
        show(body);
      } else if (r.status === 401) {
        sessionStorage.removeItem(ACK_TOKEN);
        form.elements.token.value = '';
        result.textContent = 'The collector refused the token: check http.ackToken and enter it again.';
      } else result.textContent = body.message || `The collector answered ${r.status}.`;
    });
    $('#forget-token').addEventListener('click', () => {
      sessionStorage.removeItem(ACK_TOKEN);
      form.elements.token.value = '';
      result.textContent = 'The token is forgotten in this tab.';
    });
  }

  async function alertPage() {
    const id = location.pathname.split('/').pop();
    let a = await getJson(`/api/v1/alerts/${seg(id)}`);
    const l = a.labels || {};
    const show = (x) => {
      a = x;
      facts(x);
    };
    show(a);
    evidence(a);
    ackForm(id, show);
    const scope = `site=${seg(l.site)}&device=${seg(l.device)}${l.camera ? `&camera=${seg(l.camera)}` : ''}`;
    $('#history-of').textContent = l.camera ? 'camera' : 'device';
    const loadHistory = async () => history_(a, await getJson(`/api/v1/alerts?state=resolved&${scope}&limit=50`));
    let timeline;
    if (l.camera) {
      $('#timeline').hidden = false;
      const w = a.evidence && a.evidence.window;
      // A resolved alert's stretch of history; a firing one's timeline stays live.
      timeline = new Timeline({ site: l.site, device: l.device, camera: l.camera }, { alert: a, ...(a.state === 'resolved' && w && Number.isFinite(w.seq) ? { before: w.seq + 60 } : {}) });
    }
    await Promise.all([review(a), loadHistory(), timeline && timeline.load()]);
    every(async () => {
      show(await getJson(`/api/v1/alerts/${seg(id)}`));
      if (timeline) timeline.o.alert = a;
      await Promise.all([loadHistory(), timeline && timeline.poll()]);
    });
  }

  const run = { fleet: fleetPage, alert: alertPage }[document.body.dataset.page];
  if (run)
    run().catch((e) => {
      status(`Could not load: ${e.message}`, true);
    });
})();
