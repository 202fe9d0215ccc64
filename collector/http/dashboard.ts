/** The collector's one-page dashboard: cameras with their last verdict, and active alerts. Plain HTML reading the API. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Driftline collector</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:2rem;color:#222}h1{font-size:1.3rem}table{border-collapse:collapse;margin-bottom:2rem}
td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}.ok{color:#186a3b}.warn{color:#b9770e}.alert,.critical{color:#b03a2e;font-weight:600}
</style></head><body>
<h1>Driftline collector</h1>
<h2>Active alerts</h2><table id="alerts"><thead><tr><th>Since</th><th>Severity</th><th>Alert</th><th>Cause</th></tr></thead><tbody></tbody></table>
<h2>Cameras</h2><table id="cameras"><thead><tr><th>Site</th><th>Device</th><th>Camera</th><th>Last window</th><th>Verdict</th><th>Seq</th></tr></thead><tbody></tbody></table>
<p>API: <a href="/api/v1/devices">/api/v1/devices</a>, <a href="/api/v1/cameras">/api/v1/cameras</a>, <a href="/api/v1/alerts">/api/v1/alerts</a>. Metrics: <a href="/metrics">/metrics</a>.</p>
<script>
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
async function refresh() {
  const [alerts, cameras] = await Promise.all([fetch('/api/v1/alerts').then((r) => r.json()), fetch('/api/v1/cameras').then((r) => r.json())]);
  document.querySelector('#alerts tbody').innerHTML = alerts.map((a) => '<tr><td>' + esc(a.startsAt) + '</td><td class="' + esc(a.severity) + '">' + esc(a.severity) +
    '</td><td>' + esc(a.annotations.summary) + '</td><td>' + esc((a.evidence && a.evidence.cause && a.evidence.cause.class) || '') + '</td></tr>').join('') || '<tr><td colspan="4">none</td></tr>';
  document.querySelector('#cameras tbody').innerHTML = cameras.map((c) => '<tr><td>' + esc(c.site) + '</td><td>' + esc(c.device) + '</td><td>' + esc(c.camera) +
    '</td><td>' + esc(c.lastEnd) + '</td><td class="' + esc(c.lastStatus) + '">' + esc(c.lastStatus) + '</td><td>' + esc(c.lastSeq) + '</td></tr>').join('');
}
refresh(); setInterval(refresh, 3000);
</script></body></html>
`;
