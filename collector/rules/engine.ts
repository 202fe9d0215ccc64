/**
 * The alert rules, evaluated on every message and on a timer. One active alert per condition
 * (its fingerprint: rule + site/device/camera); firing again while active updates its evidence
 * instead of raising a second alert. Every change goes to the store and then to the listener (the
 * notifiers), which must not block.
 *
 *   drift            windows at `driftMinSeverity` or worse spanning `driftFor`; resolves after ok
 *                    windows spanning `driftClear` (hysteresis). insufficient/unscored windows
 *                    neither hold nor clear it. Its evidence names the run's first drifting window
 *                    (`driftStart`): when the drift started, as against when the alert fired.
 *   deviceOffline    an `offline` status without a reason (the Last Will: a crash, a lost link), at once;
 *                    a clean stop's (it says why: `stopReason`) only when the device is not back within
 *                    `maintenanceGrace` (decided from the stored status, so a restarted collector or
 *                    another replica decides the same); or silence for `offlineSilence`.
 *   cameraStalled    a `stalled` event, or no summary for `stalledWindows` windows while the device
 *                    is online; a summary or a `resumed` event resolves it.
 *   providerFallback the device runs on a worse execution provider than it should: the one it requires, or
 *                    one it ran on before (older agents: its first choice).
 *   modelChanged     the device's model differs from the one it ran before; resolves after `modelChangedHold`.
 *   duplicateDevice  one client id keeps connecting from several addresses (two devices share an
 *                    identity; seen by the embedded broker); resolves `duplicateClear` after the last sign.
 */
import { createHash } from 'node:crypto';
import { SCHEMAS, type EventMessage, type Severity, type StatusMessage, type SummaryMessage } from '../../protocol/messages.js';
import type { AlertRecord, RuleStore } from '../store/store.js';
import { evidenceOf, headline, type Evidence } from './evidence.js';

export const RULES = {
  drift: 'DriftlineDrift',
  deviceOffline: 'DriftlineDeviceOffline',
  cameraStalled: 'DriftlineCameraStalled',
  providerFallback: 'DriftlineProviderFallback',
  modelChanged: 'DriftlineModelChanged',
  duplicateDevice: 'DriftlineDuplicateDevice',
  storageFull: 'DriftlineStorageFull',
} as const;
type RuleName = keyof typeof RULES;

export interface RuleSettings {
  readonly driftForMs: number;
  readonly driftClearMs: number;
  readonly driftMinSeverity: 'warn' | 'alert';
  readonly offlineSilenceMs: number;
  /** A clean stop's offline pages only when the device is not back this long after (default 0: at once). */
  readonly maintenanceGraceMs?: number;
  readonly stalledWindows: number;
  readonly modelChangedHoldMs: number;
  readonly resendMs: number;
  /**
   * The runbook link every alert carries, to which `#<rule>` is appended: the collector's /runbook
   * at its public URL (a function: the URL is known once the HTTP listener is up), or any page.
   */
  readonly runbookUrl: string | (() => string);
  /** duplicateDevice resolves this long after its last sign (default 10 min). */
  readonly duplicateClearMs?: number;
}

export type AlertChange = 'fire' | 'update' | 'resolve' | 'resend';
export type AlertListener = (a: AlertRecord, change: AlertChange) => void;

interface Key {
  readonly site: string;
  readonly device: string;
  readonly camera?: string;
}

interface FireSpec {
  readonly severity: Severity;
  /** The alert's one-line text (its `summary` annotation). */
  readonly headline: string;
  readonly description: string;
  readonly feature?: string;
  readonly model?: string;
  readonly evidence?: Evidence | Record<string, unknown>;
}

interface DriftState {
  badStart?: number;
  /** The run's first drifting window: where the drift started (badStart is the collector's clock). */
  firstBad?: { seq: number; start: number };
  okStart?: number;
  worst: 'warn' | 'alert';
}

/** Where a drift alert's run began: its first drifting window (evidence.driftStart). */
interface DriftStart {
  readonly seq: number;
  /** The window's start, ISO 8601. */
  readonly start: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();
/** Review-frame links a drift alert keeps, newest first (evidence.ts takes at most 10 of a window). */
const MAX_REVIEW_FRAMES = 10;
const modelLabel = (m: { name: string; sha256: string } | undefined): string | undefined => (m ? `${m.name}@${m.sha256.slice(0, 12)}` : undefined);
/**
 * The span a window that starts a hold is credited with: its own, but never more than the camera's
 * window length, and at most half the hold it starts, so that one window alone never completes a
 * hold. (A function of the module, not a closure per summary: tsx names every closure it creates
 * with Object.defineProperty, which cost about 2% of the ingest thread.)
 */
function credit(s: { start: number; end: number }, windowMs: number, hold: number): number {
  return Math.max(0, Math.min(s.end - s.start, windowMs, hold / 2));
}

/** A span for an alert's text: seconds under two minutes, whole minutes from there. */
const duration = (ms: number): string => (ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

export class RuleEngine {
  private readonly active = new Map<string, AlertRecord>();
  private readonly drift = new Map<string, DriftState>();
  private readonly lastSent = new Map<string, number>();
  /** When each camera of an online device was last heard of (summary, or the birth that listed it). */
  private readonly cameraSeen = new Map<string, { at: number; windowMs: number }>();
  /** When each duplicateDevice alert last had a sign, by fingerprint. */
  private readonly duplicateSeen = new Map<string, number>();
  /** While replaying: runs and cameras are tracked, but nothing fires or resolves. */
  private quiet = false;

  constructor(
    private readonly store: RuleStore,
    private readonly o: RuleSettings,
    private readonly listener: AlertListener,
  ) {
    for (const a of store.alerts({ state: 'firing', limit: 100_000 })) this.active.set(a.fingerprint, a);
  }

  /** Active alerts, newest first. */
  get firing(): AlertRecord[] {
    return [...this.active.values()].sort((a, b) => b.startsAt.localeCompare(a.startsAt));
  }

  onStatus(s: StatusMessage, previous: StatusMessage | undefined, now: number): void {
    const key = { site: s.site, device: s.device };
    if (s.state === 'offline') {
      for (const k of this.cameraSeen.keys()) if (k.startsWith(`${s.site}/${s.device}/`)) this.cameraSeen.delete(k);
      // A planned stop (a restart, an upgrade) is held for the grace; tick() pages if it outlasts it.
      if (s.stopReason && (this.o.maintenanceGraceMs ?? 0) > 0) return;
      this.fire('deviceOffline', key, now, {
        severity: 'critical',
        headline: `${s.site}/${s.device} is offline`,
        description: s.stopReason
          ? `The device stopped cleanly (${s.stopReason}) at ${iso(s.ts)}. No drift is being reported from its cameras.`
          : `The device's Last Will arrived at ${iso(now)} (its ts, ${iso(s.ts)}, is when that connection was made): the connection was lost without a goodbye (a crash, a power cut, the network). No drift is being reported from its cameras.`,
        model: modelLabel(previous?.model),
      });
      return;
    }
    this.resolve('deviceOffline', key, now);
    const windowMs = (s.windowSeconds ?? 60) * 1000;
    for (const c of s.cameras ?? []) this.cameraSeen.set(`${s.site}/${s.device}/${c}`, { at: now, windowMs });
    // Agents that decide it say which provider they should be on ('' for none); older ones: the first in their list.
    const preferred = s.fallbackFrom !== undefined ? s.fallbackFrom : s.providers?.[0];
    if (preferred && s.provider && s.provider !== preferred) {
      this.fire('providerFallback', key, now, {
        severity: 'warning',
        headline: `${s.site}/${s.device} runs on ${s.provider}, not ${preferred}`,
        description: `The preferred execution provider ${preferred} is not available; inference runs on ${s.provider}. Latency rises and frames may be dropped.`,
        model: modelLabel(s.model),
        evidence: { preferred, provider: s.provider, providers: s.providers },
      });
    } else if (preferred !== undefined) this.resolve('providerFallback', key, now);
    if (previous?.model && s.model && previous.model.sha256 !== s.model.sha256) this.modelChanged(key, previous.model.sha256, s.model, now);
  }

  onEvent(e: EventMessage, now: number): void {
    const key = { site: e.site, device: e.device, camera: e.camera };
    if (e.kind === 'stalled') {
      this.fire('cameraStalled', key, now, { severity: 'warning', headline: `${e.site}/${e.device}/${e.camera} stalled`, description: e.message });
    } else if (e.kind === 'resumed') this.resolve('cameraStalled', key, now);
    else if (e.kind === 'providerFallback') {
      const d = (e.detail ?? {}) as { preferred?: string; provider?: string };
      this.fire('providerFallback', { site: e.site, device: e.device }, now, {
        severity: 'warning',
        headline: `${e.site}/${e.device} runs on ${d.provider ?? 'a fallback provider'}, not ${d.preferred ?? 'its first choice'}`,
        description: e.message,
        evidence: e.detail ?? {},
      });
    } else if (e.kind === 'storageFull') {
      // Device-wide: sent on every camera's topic, one alert for the device.
      this.fire('storageFull', { site: e.site, device: e.device }, now, {
        severity: 'warning',
        headline: `${e.site}/${e.device} is out of disk space`,
        description: `${e.message}. The agent sheds its local telemetry (per-frame rows first, then windows) to keep running; summaries still flow. Free space on the device.`,
        evidence: e.detail ?? {},
      });
    } else if (e.kind === 'storageRecovered') this.resolve('storageFull', { site: e.site, device: e.device }, now);
    else if (e.kind === 'modelChanged') {
      const d = (e.detail ?? {}) as { previous?: string; current?: string; file?: string };
      if (d.current) this.modelChanged({ site: e.site, device: e.device }, d.previous ?? '', { name: d.file ?? 'model', sha256: d.current }, now);
    }
  }

  /** The embedded broker saw one client id connect again and again from several addresses. */
  onDuplicateDevice(d: { clientId: string; addresses: readonly string[]; connects: number; site?: string; device?: string }, now: number): void {
    const key = { site: d.site ?? '-', device: d.device ?? d.clientId };
    this.duplicateSeen.set(this.fingerprint('duplicateDevice', key), now);
    this.fire('duplicateDevice', key, now, {
      severity: 'critical',
      headline: `${d.site ? `${d.site}/${d.device}` : `client ${d.clientId}`}: two devices share one identity`,
      description: `Client id ${d.clientId} connected ${d.connects} times within a minute from ${d.addresses.join(', ')}: each connection takes over the other's session, so neither device reports reliably. A cloned SD card or a copied config; give each device its own mqtt.device and credentials.`,
      evidence: { clientId: d.clientId, addresses: [...d.addresses], connects: d.connects },
    });
  }

  private modelChanged(key: Key, previous: string, model: { name: string; sha256: string }, now: number): void {
    this.fire('modelChanged', key, now, {
      severity: 'info',
      headline: `${key.site}/${key.device} now runs ${modelLabel(model)}`,
      description: `The model changed from ${previous.slice(0, 12) || 'an unknown model'} to ${model.sha256.slice(0, 12)}. Drift is judged against the new model's reference profile; compare the readiness reports before trusting it.`,
      model: modelLabel(model),
      evidence: { previous, current: model.sha256 },
    });
  }

  onSummary(s: SummaryMessage, now: number): void {
    const id = `${s.site}/${s.device}/${s.camera}`;
    const key = { site: s.site, device: s.device, camera: s.camera };
    const seen = this.cameraSeen.get(id);
    this.cameraSeen.set(id, { at: now, windowMs: seen?.windowMs ?? Math.max(1000, s.end - s.start) });
    this.resolve('cameraStalled', key, now);
    this.resolve('deviceOffline', { site: s.site, device: s.device }, now);
    const st = this.drift.get(id) ?? { worst: 'warn' };
    this.drift.set(id, st);
    const bad = s.status === 'alert' || (s.status === 'warn' && this.o.driftMinSeverity === 'warn');
    // Holds run on the collector's clock. A window that starts a run is credited with its own span,
    // but never more than the camera's window length: a device cannot shorten a hold by claiming an
    // early start, and a backlog arriving at once after an outage cannot fire on arrival.
    const windowMs = (this.store.device(s.site, s.device)?.status.windowSeconds ?? 0) * 1000 || this.cameraSeen.get(id)!.windowMs;
    if (bad) {
      st.okStart = undefined;
      if (st.badStart === undefined) {
        st.badStart = now - credit(s, windowMs, this.o.driftForMs);
        st.firstBad = { seq: s.seq, start: s.start };
        st.worst = 'warn';
      }
      if (s.status === 'alert') st.worst = 'alert';
      const held = now - st.badStart;
      if (held >= this.o.driftForMs) {
        const latest = evidenceOf(s, this.store.device(s.site, s.device)?.status.reviewUrl);
        const evidence = { ...latest, reviewFrames: this.reviewFrames(key, latest.reviewFrames), driftStart: this.driftStart(key, st, s) };
        const lead = headline(s, evidence.cause);
        const scores = evidence.drivers.slice(0, 3).map((d) => `${d.key} ${d.value.toPrecision(3)} (warn ${d.warn?.toPrecision(3) ?? '-'}, alert ${d.alert?.toPrecision(3) ?? '-'})`).join('; ');
        const cause = `${evidence.cause.class.replace('-', ' ')}${evidence.cause.fault ? ` (${evidence.cause.fault})` : ''}`;
        this.fire('drift', key, now, {
          severity: st.worst === 'alert' ? 'critical' : 'warning',
          headline: `${id}: ${lead ? `${lead.text}; ${cause}` : cause} for ${duration(held)}, model ${modelLabel(s.model)}`,
          description: `${evidence.cause.reason}. Scores: ${scores || 'sequential detectors only'}. Next step: ${evidence.cause.action}.`,
          feature: lead?.family,
          model: modelLabel(s.model),
          evidence,
        });
      }
    } else if (s.status === 'ok') {
      if (st.okStart === undefined) st.okStart = now - credit(s, windowMs, this.o.driftClearMs);
      if (now - st.okStart >= this.o.driftClearMs) {
        st.badStart = undefined;
        st.firstBad = undefined;
        this.resolve('drift', key, now);
      }
    }
  }

  /**
   * Rebuilds what the rules remember of a camera (its drift run, when it was last heard of) from a
   * summary stored earlier, received at `now`, without firing or resolving anything: a new leader
   * replays the recent windows (collector/cluster/leader.ts), and the next live window acts on them.
   */
  /**
   * A device's last status, seen again when the rules' memory is rebuilt (a new leader): the
   * cameras it announced are tracked as heard of at `now`, so that one that never sends a summary
   * is still found stalled. Nothing fires or resolves.
   */
  replayStatus(s: StatusMessage, now: number): void {
    this.quiet = true;
    try {
      this.onStatus(s, undefined, now);
    } finally {
      this.quiet = false;
    }
  }

  replaySummary(s: SummaryMessage, now: number): void {
    this.quiet = true;
    try {
      this.onSummary(s, now);
    } finally {
      this.quiet = false;
    }
  }

  /**
   * The first drifting window of the run: this collector's own, or the one the active alert already
   * names when it is earlier (the run began before a restart, which forgets the run in memory).
   */
  private driftStart(k: Key, st: DriftState, s: SummaryMessage): DriftStart {
    const first = st.firstBad ?? { seq: s.seq, start: s.start };
    const known = this.active.get(this.fingerprint('drift', k))?.evidence?.driftStart as DriftStart | undefined;
    if (known && typeof known.seq === 'number' && known.seq < first.seq) return known;
    return { seq: first.seq, start: iso(first.start) };
  }

  /**
   * The run's review frames, newest first: this window's, then those the alert already holds (a
   * window under the agent's hourly budget saves none, and an update must not lose what was seen).
   */
  private reviewFrames(k: Key, latest: readonly string[]): string[] {
    const held = this.active.get(this.fingerprint('drift', k))?.evidence?.reviewFrames;
    const before = Array.isArray(held) ? held.filter((x): x is string => typeof x === 'string') : [];
    return [...new Set([...latest, ...before])].slice(0, MAX_REVIEW_FRAMES);
  }

  /** Timer rules: silence, model-change expiry, and re-sending active alerts. */
  tick(now: number): void {
    const grace = this.o.maintenanceGraceMs ?? 0;
    for (const d of this.store.devices()) {
      if (d.state === 'offline' && d.status.stopReason && grace > 0 && now - d.lastSeen >= grace) {
        this.fire('deviceOffline', { site: d.site, device: d.device }, now, {
          severity: 'critical',
          headline: `${d.site}/${d.device} is offline`,
          description: `The device stopped cleanly (${d.status.stopReason}) at ${iso(d.status.ts)} and has not come back within ${duration(grace)}: a planned stop that did not end. No drift is being reported from its cameras.`,
          model: modelLabel(undefined),
          evidence: { stopReason: d.status.stopReason, stoppedAt: iso(d.status.ts) },
        });
      }
      if (d.state !== 'online') continue;
      const key = { site: d.site, device: d.device };
      if (now - d.lastSeen >= this.o.offlineSilenceMs) {
        this.fire('deviceOffline', key, now, {
          severity: 'critical',
          headline: `${d.site}/${d.device} is silent`,
          description: `No message from the device for ${duration(now - d.lastSeen)}, though it never said goodbye: the network or the broker path is down, or the agent hangs.`,
          model: modelLabel(d.status.model),
        });
        continue;
      }
      for (const c of d.status.cameras ?? []) {
        const seen = this.cameraSeen.get(`${d.site}/${d.device}/${c}`);
        if (!seen) continue;
        const silent = now - seen.at;
        if (silent >= this.o.stalledWindows * seen.windowMs) {
          this.fire('cameraStalled', { ...key, camera: c }, now, {
            severity: 'warning',
            headline: `${d.site}/${d.device}/${c} sends no summaries`,
            description: `No summary for ${duration(silent)} (${this.o.stalledWindows} windows) while the device is online: the camera delivers no frames or its pipeline is stuck.`,
            model: modelLabel(d.status.model),
          });
        }
      }
    }
    for (const a of [...this.active.values()]) {
      if (a.rule === 'modelChanged' && now - Date.parse(a.startsAt) >= this.o.modelChangedHoldMs) this.resolveActive(a.fingerprint, now);
      if (a.rule === 'duplicateDevice' && now - (this.duplicateSeen.get(a.fingerprint) ?? 0) >= (this.o.duplicateClearMs ?? 600_000)) {
        this.duplicateSeen.delete(a.fingerprint);
        this.resolveActive(a.fingerprint, now);
      }
    }
    for (const a of this.active.values()) {
      if (now - (this.lastSent.get(a.fingerprint) ?? 0) >= this.o.resendMs) {
        this.lastSent.set(a.fingerprint, now);
        this.listener(a, 'resend');
      }
    }
  }

  /**
   * The store holds a firing alert of this fingerprint under another id than the rules' (an earlier
   * leader's write that committed after this leader loaded the active alerts, and the store refused
   * the rules' own). It takes the place of theirs, keeping its id, startsAt and acknowledgement, with
   * what the rules have now, and is notified as firing; if the rules have resolved theirs since, it
   * is resolved. A receiver then hears of the incident under one id.
   */
  adopt(stored: AlertRecord, now: number): void {
    const mine = this.active.get(stored.fingerprint);
    if (mine?.id === stored.id) return; // adopted already
    if (mine) {
      const a: AlertRecord = { ...mine, id: stored.id, startsAt: stored.startsAt, ...(stored.ack ? { ack: stored.ack } : {}) };
      this.active.set(stored.fingerprint, a);
      this.store.saveAlert(a);
      this.emit(a, 'fire', now);
      return;
    }
    const a: AlertRecord = { ...stored, state: 'resolved', endsAt: iso(now), updatedAt: iso(now) };
    this.store.saveAlert(a);
    this.listener(a, 'resolve');
  }

  /** Records an acknowledgement; returns the alert, or undefined for an unknown id. */
  acknowledge(id: string, by: string, comment: string, now: number): AlertRecord | undefined {
    const a = [...this.active.values()].find((x) => x.id === id) ?? this.store.alert(id);
    if (!a) return undefined;
    a.ack = { by, comment, at: iso(now) };
    a.updatedAt = iso(now);
    this.store.saveAlert(a);
    return a;
  }

  private fingerprint(rule: RuleName, k: Key): string {
    return `${rule}/${k.site}/${k.device}${k.camera ? `/${k.camera}` : ''}`;
  }

  private fire(rule: RuleName, k: Key, now: number, spec: FireSpec): void {
    if (this.quiet) return;
    const fp = this.fingerprint(rule, k);
    const existing = this.active.get(fp);
    const labels: Record<string, string> = { alertname: RULES[rule], severity: spec.severity, site: k.site, device: k.device };
    if (k.camera) labels.camera = k.camera;
    if (spec.model ?? existing?.labels.model) labels.model = (spec.model ?? existing?.labels.model)!;
    if (spec.feature) labels.feature = spec.feature;
    const base = typeof this.o.runbookUrl === 'function' ? this.o.runbookUrl() : this.o.runbookUrl;
    // The anchor GitHub and the collector's /runbook give the rule's heading (`## deviceOffline`).
    const annotations = { summary: spec.headline, description: spec.description, runbook_url: `${base}#${rule.toLowerCase()}` };
    if (existing) {
      // Labels are the alert's identity in Alertmanager: they stay as they were when it fired, or a
      // resolve would leave the earlier label set firing there. Severity and the text may change.
      const escalated = existing.severity !== spec.severity;
      existing.severity = spec.severity;
      existing.annotations = annotations;
      if (spec.evidence) existing.evidence = spec.evidence as Record<string, unknown>;
      existing.updatedAt = iso(now);
      this.store.saveAlert(existing);
      if (escalated) this.emit(existing, 'update', now);
      return;
    }
    const startsAt = iso(now);
    const a: AlertRecord = {
      schema: SCHEMAS.alert,
      id: createHash('sha256').update(`${fp}@${startsAt}`).digest('hex').slice(0, 16),
      fingerprint: fp,
      rule,
      state: 'firing',
      severity: spec.severity,
      labels,
      annotations,
      startsAt,
      updatedAt: startsAt,
      ...(spec.evidence ? { evidence: spec.evidence as Record<string, unknown> } : {}),
    };
    this.active.set(fp, a);
    this.store.saveAlert(a);
    this.emit(a, 'fire', now);
  }

  private resolve(rule: RuleName, k: Key, now: number): void {
    this.resolveActive(this.fingerprint(rule, k), now);
  }

  /** Resolves the active alert of this fingerprint, if any. */
  private resolveActive(fp: string, now: number): void {
    if (this.quiet) return;
    const a = this.active.get(fp);
    if (!a) return;
    this.active.delete(fp);
    this.lastSent.delete(fp);
    a.state = 'resolved';
    a.endsAt = iso(now);
    a.updatedAt = a.endsAt;
    this.store.saveAlert(a);
    this.listener(a, 'resolve');
  }

  private emit(a: AlertRecord, change: AlertChange, now: number): void {
    this.lastSent.set(a.fingerprint, now);
    this.listener(a, change);
  }
}
