/// The dashboard's page, script and styles, compiled in so that the collector serves them with
/// nothing to install or fetch (no CDN, no bundle to ship beside the binary).
enum DashboardAssets {
    static let page = #"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Evy dashboard</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="stylesheet" href="/dashboard.css"></head>
        <body>
        <header><h1>Evy</h1><span id="connection" class="bad">connecting…</span><span id="updated"></span></header>
        <main>
        <section class="wide"><h2>Jobs per second</h2>
          <canvas id="chart" width="960" height="240" aria-label="jobs per second"></canvas>
          <p class="legend"><span class="submitted">submitted</span> <span class="done">done</span>
            <span class="failed">failed</span> <span id="rates"></span></p></section>
        <section><h2>Totals</h2><table id="totals"></table></section>
        <section><h2>Queues</h2><table id="queues"><thead><tr><th>handler</th><th>priority</th><th>depth</th></tr></thead><tbody></tbody></table></section>
        <section class="wide"><h2>Workers</h2><table id="workers"><thead><tr><th>name</th><th>host</th><th>pid</th><th>slots</th><th>in flight</th><th>last heartbeat</th><th>state</th></tr></thead><tbody></tbody></table></section>
        <section><h2>Crawl</h2><table id="crawl"></table></section>
        <section><h2>Feeds</h2><table id="feeds"></table></section>
        <section class="wide"><h2>Running</h2>
          <form id="cancel-form"><input id="cancel-job" inputmode="numeric" placeholder="job id" size="10"> <button>Cancel job</button> <span id="cancel-result"></span></form>
          <table id="active"><thead><tr><th>job</th><th>handler</th><th>attempt</th><th>priority</th><th></th></tr></thead><tbody></tbody></table></section>
        <section class="wide"><h2>Dead letters</h2>
          <p><button id="retry-all">Retry all</button> <button id="purge-all">Purge all</button> <span id="dead-result"></span></p>
          <table id="dead"><thead><tr><th>job</th><th>handler</th><th>attempts</th><th>error</th><th></th></tr></thead><tbody></tbody></table></section>
        </main>
        <script src="/dashboard.js"></script>
        </body></html>
        """#

    static let styles = #"""
        body { font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2430; }
        header { display: flex; gap: 1em; align-items: baseline; padding: .6em 1.2em; background: #1d2430; color: #fff; }
        header h1 { margin: 0; font-size: 1.3em; }
        #connection.good { color: #7ee2a8; } #connection.bad { color: #ff9a8a; }
        #updated { margin-left: auto; opacity: .7; font-size: .9em; }
        main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1em; padding: 1em; }
        section { background: #fff; border-radius: 6px; padding: .8em 1em; box-shadow: 0 1px 2px #0002; overflow-x: auto; }
        section.wide { grid-column: 1 / -1; }
        h2 { font-size: 1em; margin: 0 0 .6em; }
        table { border-collapse: collapse; width: 100%; font-size: .9em; }
        th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid #e4e7ec; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        canvas { width: 100%; height: 240px; background: #fff; }
        .legend span { margin-right: 1em; } .legend span::before { content: "■ "; }
        .submitted::before { color: #2f6fde; } .done::before { color: #1f9d55; } .failed::before { color: #d64545; }
        #rates::before { content: "" !important; }
        button { cursor: pointer; }
        .error { color: #b42318; }
        """#

    static let script = #"""
        "use strict";
        const maxPoints = 300;
        let points = [];                // [unix ms, submitted/s, done/s, failed/s], from the collector
        const $ = id => document.getElementById(id);
        const text = v => (v === undefined || v === null) ? "" : String(v);

        function cell(row, value, numeric) {
          const td = row.insertCell(); td.textContent = text(value);
          if (numeric) td.className = "num";
          return td;
        }
        function fill(table, rows, columns) {
          const body = table.tBodies[0] || table.createTBody();
          body.replaceChildren();
          for (const item of rows) {
            const row = body.insertRow();
            for (const [key, numeric] of columns) cell(row, typeof key === "function" ? key(item) : item[key], numeric);
          }
          return body;
        }
        function pairs(table, entries) {
          const body = table.tBodies[0] || table.createTBody();
          body.replaceChildren();
          for (const [name, value] of entries) { const row = body.insertRow(); cell(row, name); cell(row, value, true); }
        }

        function record(s) {
          points = (s.history || []).map(([t, submitted, done, failed]) => ({ t, submitted, done, failed }));
          const now = points[points.length - 1] || { submitted: 0, done: 0, failed: 0 };
          $("rates").textContent = `now: ${now.submitted.toFixed(1)} submitted/s, ${now.done.toFixed(1)} done/s, ${now.failed.toFixed(1)} failed/s`;
        }

        function draw() {
          const canvas = $("chart"), g = canvas.getContext("2d");
          const w = canvas.width, h = canvas.height, pad = 34;
          g.clearRect(0, 0, w, h);
          const top = Math.max(1, ...points.map(p => Math.max(p.submitted, p.done, p.failed))) * 1.1;
          g.strokeStyle = "#e4e7ec"; g.fillStyle = "#667085"; g.font = "11px sans-serif"; g.lineWidth = 1;
          for (let i = 0; i <= 4; i++) {
            const y = pad / 2 + (h - pad) * i / 4;
            g.beginPath(); g.moveTo(pad, y); g.lineTo(w, y); g.stroke();
            g.fillText((top * (4 - i) / 4).toFixed(top < 10 ? 1 : 0), 2, y + 4);
          }
          const x = i => pad + (w - pad) * i / (maxPoints - 1);
          const y = v => pad / 2 + (h - pad) * (1 - v / top);
          for (const [key, colour] of [["submitted", "#2f6fde"], ["done", "#1f9d55"], ["failed", "#d64545"]]) {
            g.strokeStyle = colour; g.lineWidth = 2; g.beginPath();
            points.forEach((p, i) => { const px = x(maxPoints - points.length + i), py = y(p[key]); i ? g.lineTo(px, py) : g.moveTo(px, py); });
            g.stroke();
          }
        }

        async function act(path, result) {
          result.textContent = "…"; result.className = "";
          try {
            const response = await fetch(path, { method: "POST", headers: { "X-Evy-Action": "1" } });
            const body = await response.json();
            result.textContent = response.ok ? JSON.stringify(body) : (body.error || response.statusText);
            if (!response.ok) result.className = "error";
          } catch (error) { result.textContent = String(error); result.className = "error"; }
        }

        function render(s) {
          record(s); draw();
          $("updated").textContent = "updated " + new Date(s.at).toLocaleTimeString();
          const d = s.dispatcher, c = s.collector || {};
          const totals = [["recorded (collector)", c.total], ["duplicates ignored", c.duplicates]];
          if (d) totals.unshift(["submitted", d.submitted], ["done", d.done], ["queued", d.pending], ["delayed", d.delayed],
                                ["in flight", d.leased], ["retried", d.retried], ["dead", d.dead], ["lost (re-run)", d.lost], ["cancelled", d.cancelled]);
          else totals.unshift(["dispatcher", s.dispatcherError || "not answering"]);
          pairs($("totals"), totals);
          fill($("queues"), (d && d.queues) || [], [["handler"], ["priority", true], ["depth", true]]);
          fill($("workers"), ((d && d.workers) || []).sort((a, b) => a.name.localeCompare(b.name)), [["name"], ["host"], ["pid", true], ["slots", true],
               ["inFlight", true], [w => (w.lastSeenMs / 1000).toFixed(1) + " s ago", true], [w => w.draining ? "draining" : "taking jobs"]]);
          pairs($("crawl"), s.crawl ? [["pages done", s.crawl.done], ["queued", s.crawl.queued], ["errors", s.crawl.errors]] : [["no crawl yet", ""]]);
          const feeds = $("feeds");
          if (!s.feeds) pairs(feeds, [["no feed state file given (--feeds-state)", ""]]);
          else if (s.feeds.error) pairs(feeds, [["feed state unreadable", s.feeds.error]]);
          else {
            pairs(feeds, [["feeds", s.feeds.total], ["failing or gone", s.feeds.failing.length]]);
            for (const f of s.feeds.failing) {
              const row = feeds.tBodies[0].insertRow();
              cell(row, f.title || f.url); cell(row, `${f.status}, ${f.errors} errors: ${f.lastError}`);
            }
          }
          const active = fill($("active"), s.active || [], [["id", true], ["handler"], ["attempts", true], ["priority", true]]);
          [...active.rows].forEach((row, i) => {
            const button = document.createElement("button"); button.textContent = "cancel";
            button.onclick = () => act(`/api/jobs/${s.active[i].id}/cancel`, $("cancel-result"));
            row.insertCell().append(button);
          });
          const dead = fill($("dead"), s.dead || [], [["id", true], ["handler"], ["attempts", true], ["error"]]);
          [...dead.rows].forEach((row, i) => {
            const button = document.createElement("button"); button.textContent = "retry";
            button.onclick = () => act(`/api/dead/retry?job=${s.dead[i].id}`, $("dead-result"));
            row.insertCell().append(button);
          });
        }

        $("cancel-form").onsubmit = event => {
          event.preventDefault();
          const id = $("cancel-job").value.trim();
          if (/^\d+$/.test(id)) act(`/api/jobs/${id}/cancel`, $("cancel-result"));
        };
        $("retry-all").onclick = () => act("/api/dead/retry", $("dead-result"));
        $("purge-all").onclick = () => { if (confirm("Purge every dead letter?")) act("/api/dead/purge", $("dead-result")); };

        function connect() {
          const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
          socket.onopen = () => { $("connection").textContent = "live"; $("connection").className = "good"; };
          socket.onmessage = event => render(JSON.parse(event.data));
          socket.onclose = () => { $("connection").textContent = "reconnecting…"; $("connection").className = "bad"; setTimeout(connect, 1000); };
        }
        draw();
        connect();
        """#
}
