/**
 * The board's stylesheet and its one script, served from /assets so the pages can forbid inline
 * script (see the Content-Security-Policy in app.ts): an escaping slip then still runs nothing.
 */

export const BOARD_CSS = `
:root { --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#f6f8fa; --card:#fff; --accent:#0969da;
  --ok:#1a7f37; --bad:#cf222e; --run:#0969da; --warn:#9a6700; --retry:#8250df; --idle:#6e7781; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif; color:var(--fg); background:var(--bg); }
header.top { display:flex; align-items:center; gap:20px; padding:10px 24px; background:#24292f; color:#fff; }
header.top .brand { font-weight:700; font-size:16px; color:#fff; text-decoration:none; letter-spacing:.02em; }
header.top nav a { color:#d0d7de; text-decoration:none; margin-right:14px; }
header.top nav a.here, header.top nav a:hover { color:#fff; }
header.top .flag { margin-left:auto; font-size:12px; padding:2px 8px; border:1px solid #8c959f; border-radius:10px; color:#d0d7de; }
main { max-width:1200px; margin:0 auto; padding:20px 24px 48px; }
h1 { font-size:22px; margin:4px 0 6px; display:flex; align-items:center; gap:10px; flex-wrap:wrap; }
h2 { font-size:16px; margin:24px 0 8px; }
a { color:var(--accent); }
.muted { color:var(--muted); }
.crumbs { font-size:13px; color:var(--muted); }
code, pre, .mono { font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,monospace; font-size:12.5px; }
table { width:100%; border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:6px; overflow:hidden; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:var(--bg); font-weight:600; font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.03em; }
tr:last-child td { border-bottom:none; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; background:var(--idle); white-space:nowrap; }
.s-succeeded { background:var(--ok); } .s-failed, .s-refused { background:var(--bad); } .s-running { background:var(--run); }
.s-retrying { background:var(--retry); } .s-cancelled { background:var(--warn); } .s-queued, .s-pending, .s-skipped { background:var(--idle); }
.counts span { margin-right:8px; white-space:nowrap; }
.counts i { display:inline-block; width:8px; height:8px; border-radius:50%; margin-right:4px; background:var(--idle); }
.counts i.s-succeeded { background:var(--ok); } .counts i.s-failed { background:var(--bad); } .counts i.s-running { background:var(--run); }
.counts i.s-retrying { background:var(--retry); } .counts i.s-cancelled { background:var(--warn); }
.filters { margin:12px 0; display:flex; gap:6px; flex-wrap:wrap; }
.filters a { padding:3px 10px; border:1px solid var(--line); border-radius:14px; text-decoration:none; color:var(--fg); background:var(--card); font-size:13px; }
.filters a.here { background:var(--accent); border-color:var(--accent); color:#fff; }
.totals { display:grid; grid-template-columns:repeat(auto-fill,minmax(140px,1fr)); gap:10px; margin:14px 0; }
.totals div { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:8px 12px; }
.totals b { display:block; font-size:12px; color:var(--muted); font-weight:600; text-transform:uppercase; letter-spacing:.03em; }
.totals span { font-size:15px; font-variant-numeric:tabular-nums; }
.member { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; margin:12px 0; }
.member h3 { margin:0 0 8px; font-size:16px; display:flex; align-items:center; gap:8px; flex-wrap:wrap; }
.member h3 .role, .member h3 .muted { font-weight:400; color:var(--muted); font-size:13px; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:3px 14px; margin:0 0 10px; }
dl.facts dt { color:var(--muted); }
dl.facts dd { margin:0; overflow-wrap:anywhere; }
.error { color:var(--bad); white-space:pre-wrap; }
.hb.fresh { color:var(--ok); } .hb.stale { color:var(--bad); font-weight:600; }
.attach { background:var(--bg); border:1px solid var(--line); border-radius:4px; padding:1px 6px; user-select:all; }
.events { list-style:none; margin:6px 0 0; padding:8px 10px; background:#0d1117; color:#e6edf3; border-radius:6px; max-height:260px; overflow:auto; }
.events li { white-space:pre-wrap; overflow-wrap:anywhere; font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12px; }
.events .t { color:#8b949e; margin-right:8px; } .events .k { color:#79c0ff; display:inline-block; min-width:56px; margin-right:6px; }
.events .k-result { color:#56d364; } .events .k-error { color:#ff7b72; }
.events .none { color:#8b949e; }
details { margin-top:8px; } details pre { white-space:pre-wrap; overflow-wrap:anywhere; background:var(--bg); padding:8px; border-radius:4px; max-height:240px; overflow:auto; }
pre.summary { margin:0; white-space:pre-wrap; overflow-wrap:anywhere; }
.live { font-size:12px; font-weight:400; color:var(--muted); }
.live::before { content:""; display:inline-block; width:8px; height:8px; border-radius:50%; margin-right:5px; background:var(--idle); }
.live.on::before { background:var(--ok); } .live.lost::before { background:var(--bad); }
.figure { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; overflow-x:auto; }
.figure svg { display:block; max-width:none; font:12px -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif; }
.tg-edge { fill:none; stroke:#8c959f; stroke-width:1.5; }
#tg-arrow path { fill:#8c959f; }
.tg-node rect { fill:#f6f8fa; stroke:var(--idle); stroke-width:1.5; }
.tg-node text { fill:var(--fg); } .tg-node .tg-name { font-weight:600; font-size:13px; } .tg-node .tg-status, .tg-node .tg-note { fill:var(--muted); font-size:11.5px; }
.tg-node.s-succeeded rect { fill:#dafbe1; stroke:var(--ok); } .tg-node.s-failed rect { fill:#ffebe9; stroke:var(--bad); }
.tg-node.s-running rect { fill:#ddf4ff; stroke:var(--run); } .tg-node.s-retrying rect { fill:#fbefff; stroke:var(--retry); }
.tg-node.s-cancelled rect { fill:#fff8c5; stroke:var(--warn); } .tg-node.s-skipped rect { fill:#f6f8fa; stroke:var(--idle); stroke-dasharray:4 3; }
.tg-node.s-skipped text { fill:var(--muted); }
.tg-node.tg-active rect { stroke-width:3; } .tg-node.tg-waiting rect { stroke:var(--warn); stroke-dasharray:6 3; }
.tg-dot { fill:var(--run); } .tg-waiting .tg-dot { fill:var(--warn); }
.tg-running .tg-dot { animation:tg-pulse 1.2s ease-in-out infinite; }
@keyframes tg-pulse { 50% { opacity:.25; } }
@media (prefers-reduced-motion: reduce) { .tg-running .tg-dot { animation:none; } }
.tg-why { margin:8px 0 0; padding-left:18px; font-size:13px; } .tg-why li.tg-waiting::marker { color:var(--warn); } .tg-why li.tg-running::marker { color:var(--run); }
.tl-grid { stroke:#eaeef2; } .tl-tick { fill:var(--muted); font-size:11px; text-anchor:middle; } .tl-name { fill:var(--fg); }
.tl-span { stroke:none; } .tl-queued { fill:#d0d7de; } .tl-waiting { fill:#d4a72c; } .tl-running { fill:var(--run); } .tl-succeeded { fill:var(--ok); }
.tl-failed { fill:var(--bad); } .tl-backoff { fill:#c297ff; }
.tl-mark { stroke-width:2.5; } .tl-verify { stroke:#bc4c00; } .tl-next-try { stroke:var(--retry); stroke-dasharray:2 2; } .tl-skipped { stroke:var(--idle); }
.tl-legend { display:flex; flex-wrap:wrap; gap:14px; margin-top:6px; font-size:12px; color:var(--muted); }
.tl-legend i { display:inline-block; width:12px; height:8px; border-radius:2px; margin-right:4px; vertical-align:middle; }
.tl-legend i.tl-queued { background:#d0d7de; } .tl-legend i.tl-waiting { background:#d4a72c; } .tl-legend i.tl-running { background:var(--run); }
.tl-legend i.tl-succeeded { background:var(--ok); } .tl-legend i.tl-failed { background:var(--bad); } .tl-legend i.tl-backoff { background:#c297ff; }
.tl-legend i.tl-verify { width:3px; background:#bc4c00; } .tl-legend i.tl-skipped { width:8px; background:var(--idle); }
.windows { list-style:none; margin:0; padding:0; } .windows li { white-space:nowrap; }
.empty { padding:24px; text-align:center; color:var(--muted); background:var(--card); border:1px dashed var(--line); border-radius:8px; }
`;

/**
 * Live updates. On a run's page an EventSource receives server-rendered (already escaped) fragments and
 * swaps them in by id; heartbeat ages tick every second from the server's clock. On the runs list the
 * table is fetched again every few seconds. No data is ever turned into HTML here.
 */
export const BOARD_JS = `
(() => {
  'use strict';
  let clockOffsetMs = Number(document.body.dataset.serverNow || Date.now()) - Date.now();
  const ageText = (ms) => {
    const s = Math.max(0, Math.floor(ms / 1000));
    return s < 60 ? s + ' s ago' : s < 3600 ? Math.floor(s / 60) + ' min ago' : s < 86400 ? Math.floor(s / 3600) + ' h ago' : Math.floor(s / 86400) + ' d ago';
  };
  const tick = () => {
    for (const el of document.querySelectorAll('[data-beat-at]')) {
      const age = Date.now() + clockOffsetMs - Number(el.dataset.beatAt);
      el.textContent = ageText(age);
      el.classList.toggle('fresh', age < 15000);
      el.classList.toggle('stale', age >= 15000);
    }
  };
  tick();
  setInterval(tick, 1000);

  const live = document.getElementById('live');
  const setLive = (state, text) => { if (live) { live.className = 'live ' + state; live.textContent = text; } };

  const stream = document.body.dataset.stream;
  if (stream) {
    const source = new EventSource(stream);
    source.addEventListener('open', () => setLive('on', 'live'));
    source.addEventListener('error', () => setLive('lost', 'reconnecting…'));
    source.addEventListener('problem', (event) => setLive('lost', JSON.parse(event.data).message));
    source.addEventListener('update', (event) => {
      const update = JSON.parse(event.data);
      clockOffsetMs = update.now - Date.now();
      for (const [id, fragment] of Object.entries(update.fragments)) {
        const target = document.getElementById(id);
        if (target) target.innerHTML = fragment;
      }
      tick();
      if (update.final) {
        source.close();
        setLive('', 'ended');
      } else {
        setLive('on', 'live');
      }
    });
  }

  const table = document.querySelector('[data-refresh-url]');
  if (table) {
    setInterval(async () => {
      try {
        const response = await fetch(table.dataset.refreshUrl, { credentials: 'same-origin' });
        if (response.ok) { table.innerHTML = await response.text(); setLive('on', 'live'); }
        else setLive('lost', 'refresh failed (' + response.status + ')');
      } catch {
        setLive('lost', 'board unreachable');
      }
    }, 3000);
  }
})();
`;
