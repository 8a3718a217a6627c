#!/usr/bin/python3
"""Statistics and reports for bench/run.sh (Python standard library only).

  report.py median RUNS.jsonl SCENARIO SERVER FIELD
      Prints the median of FIELD (a loadgen JSON key, dots for nested keys) over the
      successful runs of SCENARIO on SERVER, or nothing when there is none.
  report.py append RUNS.jsonl SCENARIO SERVER REP ARGS [EXIT_CODE|ERROR]  < loadgen stdout
      Appends one run line; a missing or unparsable loadgen result is recorded as a failure
      (with ERROR as the reason when given instead of an exit code).
  report.py disturbed  < loadgen stdout
      Exits 0 (printing other_cpu_pct) when other processes disturbed the run.
  report.py skip RUNS.jsonl SCENARIO SERVER REASON
      Records that SCENARIO could not run on SERVER.
  report.py build RUNS.jsonl OUT_DIR [--quick] [--meta KEY=VALUE ...]
      Writes OUT_DIR/latest.json, latest.md and latest.svg.

RUNS.jsonl has one line per run, written by run.sh:
  {"scenario": ..., "server": ..., "rep": N, "args": "...", "result": {loadgen JSON} | null,
   "skipped": "reason" (instead of result, for a scenario that could not run)}
"""
import datetime
import json
import math
import statistics
import sys
from pathlib import Path

SERVERS = ["switchboard", "ws", "socketio", "nats"]
SERVER_LABEL = {"switchboard": "Switchboard", "ws": "Node ws", "socketio": "Socket.IO", "nats": "NATS",
                "switchboard-cluster": "Switchboard 2 nodes + Redis",
                "socketio-cluster": "Socket.IO 2 nodes + Redis adapter"}
PEERS = ["ws", "socketio", "nats"]
COLORS = {"switchboard": "#1f77b4", "ws": "#ff7f0e", "socketio": "#2ca02c", "nats": "#9467bd"}
# The cluster scenarios run each of these servers on one node (the server's own name) and on
# two nodes sharing one Redis (SERVER-cluster), and compare the two.
CLUSTER_SERVERS = ["switchboard", "socketio"]

# name -> (description, kind); kind selects the metrics shown.
SCENARIOS = {
    "fanout": ("1 channel x 1,000 subscribers, 1 WebSocket publisher, closed loop", "load"),
    "fanout-http": ("1 channel x 1,000 subscribers, 1 HTTP publisher (POST /api/publish), closed loop", "load"),
    "wide": ("100 channels x 100 subscribers (10,000 connections), 4 publishers, closed loop", "load"),
    "fanout-lat50": ("fanout shape at 50% of its closed-loop max publish rate, open loop", "latency"),
    "wide-lat50": ("wide shape at 50% of its closed-loop max publish rate, open loop", "latency"),
    "fanout-fixed": ("fanout shape at a fixed 50 publishes/s (50,000 deliveries/s) for every server, open loop", "fixed"),
    "wide-fixed": ("wide shape at a fixed 200 publishes/s (20,000 deliveries/s) for every server, open loop", "fixed"),
    "wide-1k": ("wide shape, 1 KiB payloads, closed loop", "load"),
    "wide-16k": ("wide shape, 16 KiB payloads, closed loop", "load"),
    "idle-10k": ("10,000 idle connections, one channel each", "idle"),
    "idle-100k": ("100,000 idle connections, one channel each", "idle"),
    "history-off": ("wide shape on channels without history (server started with the bench config)", "load"),
    "history-on": ("wide shape on bench-history: channels (history_size = 1000)", "load"),
    "cluster": ("fanout shape, closed loop, on one node and on two nodes sharing one Redis "
                "(subscribers alternate between the nodes, the publisher is on node 1)", "cluster"),
    "cluster-fixed": ("the cluster scenario's deployments at a fixed 50 publishes/s (50,000 deliveries/s), "
                      "open loop", "cluster-fixed"),
}

# Metrics: key -> (label, unit, better, formatter). better: "high" or "low".
METRICS = {
    "deliveries_per_s": ("deliveries/s", "", "high"),
    "publishes_per_s": ("publishes/s", "", "high"),
    "latency_us.p50": ("p50 latency", "ms", "low"),
    "latency_us.p99": ("p99 latency", "ms", "low"),
    "latency_us.p999": ("p99.9 latency", "ms", "low"),
    "latency_us_node1.p50": ("p50, node-1 subscribers", "ms", "low"),
    "latency_us_node2.p50": ("p50, node-2 subscribers", "ms", "low"),
    "latency_us_node1.p99": ("p99, node-1 subscribers", "ms", "low"),
    "latency_us_node2.p99": ("p99, node-2 subscribers", "ms", "low"),
    "deliveries_per_s_node1": ("deliveries/s to node 1", "", "high"),
    "deliveries_per_s_node2": ("deliveries/s to node 2", "", "high"),
    "rate_target": ("publishes/s offered", "", None),
    "connect_rate": ("connects/s", "", "high"),
    "rss_per_conn_bytes": ("memory/connection", "KiB", "low"),
    "rss_after_kb": ("server RSS after", "MiB", "low"),
    "server_cpu_pct": ("server CPU", "%", None),
    "client_cpu_pct": ("loadgen CPU", "%", None),
    "other_cpu_pct": ("other processes' CPU", "%", None),
    "irq_cpu_pct": ("irq/softirq CPU", "%", None),
}
DISTURBED_PCT = 25  # other_cpu_pct above this marks a run as disturbed by other processes
KIND_METRICS = {
    "load": ["deliveries_per_s", "publishes_per_s", "latency_us.p50", "latency_us.p99", "server_cpu_pct", "client_cpu_pct"],
    "latency": ["rate_target", "deliveries_per_s", "latency_us.p50", "latency_us.p99", "latency_us.p999"],
    "fixed": ["deliveries_per_s", "latency_us.p50", "latency_us.p99", "latency_us.p999"],
    "idle": ["connect_rate", "rss_per_conn_bytes", "rss_after_kb", "latency_us.p99"],
    "cluster": ["deliveries_per_s", "latency_us.p50", "latency_us.p99", "latency_us_node1.p99",
                "latency_us_node2.p99", "server_cpu_pct", "client_cpu_pct"],
    "cluster-fixed": ["latency_us.p50", "latency_us.p99", "latency_us.p999", "latency_us_node1.p99",
                      "latency_us_node2.p99", "server_cpu_pct"],
}
# The rows that go into the Markdown summary table (scenario, metric).
SUMMARY_ROWS = {
    "load": ["deliveries_per_s", "latency_us.p99"],
    "latency": ["rate_target", "latency_us.p50", "latency_us.p99"],
    "fixed": ["latency_us.p50", "latency_us.p99"],
    "idle": ["connect_rate", "rss_per_conn_bytes"],
    # The cluster scenarios have their own table (cluster_markdown).
    "cluster": ["deliveries_per_s", "latency_us.p99", "latency_us_node1.p99", "latency_us_node2.p99", "server_cpu_pct"],
    # At the same load, server CPU is what the cluster costs in work, latency aside.
    "cluster-fixed": ["latency_us.p50", "latency_us.p99", "latency_us_node1.p99", "latency_us_node2.p99",
                      "server_cpu_pct"],
}
CLUSTER_KINDS = ("cluster", "cluster-fixed")


def get(d, dotted):
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d if isinstance(d, (int, float)) and not isinstance(d, bool) else None


def load_runs(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


def good(run):
    r = run.get("result")
    return isinstance(r, dict) and r.get("ok") is True


def cmd_median(args):
    path, scenario, server, field = args
    vals = [get(r["result"], field) for r in load_runs(path)
            if r.get("scenario") == scenario and r.get("server") == server and good(r)]
    vals = [v for v in vals if v is not None]
    if vals:
        print(statistics.median(vals))


def cmd_append(args):
    path, scenario, server, rep, run_args = args[:5]
    code = args[5] if len(args) > 5 else "0"
    text = sys.stdin.read().strip()
    line = {"scenario": scenario, "server": server, "rep": int(rep), "args": run_args, "result": None}
    try:
        line["result"] = json.loads(text.splitlines()[-1]) if text else None
    except (ValueError, IndexError):
        line["result"] = None
    if line["result"] is None:
        if not code.isdigit():
            line["error"] = code  # run.sh passes a message when the run never started
        else:
            line["error"] = f"loadgen exited {code} without a result" + (" (timeout)" if code == "124" else "")
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")
    r = line["result"]
    if isinstance(r, dict):
        lat = (r.get("latency_us") or {}).get("p99")
        parts = [f"ok={r.get('ok')}"]
        if r.get("mode") == "idle":
            parts.append(f"connect_rate={r.get('connect_rate')}/s rss/conn={r.get('rss_per_conn_bytes')} B")
        else:
            parts.append(f"deliveries/s={r.get('deliveries_per_s')} publishes/s={r.get('publishes_per_s')}")
        parts.append(f"p99={lat} us lost={r.get('lost')} errors={(r.get('errors') or {}).get('total')}")
        if r.get("nodes") == 2:
            p99s = [((r.get(f"latency_us_node{n}") or {}).get("p99")) for n in (1, 2)]
            parts.append(f"node1/node2: deliveries/s={r.get('deliveries_per_s_node1')}/{r.get('deliveries_per_s_node2')} "
                         f"p99={p99s[0]}/{p99s[1]} us")
        if r.get("client_bound"):
            parts.append("CLIENT-BOUND")
        if r.get("error"):
            parts.append(f"error={r.get('error')}")
        print("  " + " ".join(parts))
    else:
        print("  " + line["error"])


def cmd_disturbed():
    """Exit 0 when the loadgen result on stdin was disturbed by other processes."""
    try:
        r = json.loads(sys.stdin.read().strip().splitlines()[-1])
    except (ValueError, IndexError):
        sys.exit(1)
    other = r.get("other_cpu_pct") if isinstance(r, dict) else None
    if isinstance(other, (int, float)) and other > DISTURBED_PCT:
        print(f"{other:.0f}")
        sys.exit(0)
    sys.exit(1)


def cmd_skip(args):
    path, scenario, server, reason = args
    with open(path, "a") as f:
        f.write(json.dumps({"scenario": scenario, "server": server, "skipped": reason}) + "\n")
    print(f"  skipped: {reason}")


def summarize(runs):
    """scenario -> server -> summary dict."""
    out = {}
    for run in runs:
        sc, srv = run["scenario"], run["server"]
        s = out.setdefault(sc, {}).setdefault(srv, {
            "runs": 0, "ok_runs": 0, "skipped": None, "errors": [], "lost": 0, "duplicates": 0,
            "error_events": 0, "client_bound_runs": 0, "disturbed_runs": 0, "values": {}})
        if "skipped" in run:
            s["skipped"] = run["skipped"]
            continue
        s["runs"] += 1
        res = run.get("result")
        if not isinstance(res, dict):
            s["errors"].append(run.get("error") or "loadgen printed no result")
            continue
        if not res.get("ok"):
            s["errors"].append(res.get("error") or "run failed")
            continue
        s["ok_runs"] += 1
        s["lost"] += res.get("lost", 0) or 0
        s["duplicates"] += res.get("duplicates", 0) or 0
        s["error_events"] += (res.get("errors") or {}).get("total", 0) or 0
        if res.get("client_bound"):
            s["client_bound_runs"] += 1
        if (res.get("other_cpu_pct") or 0) > DISTURBED_PCT:
            s["disturbed_runs"] += 1
        for key in METRICS:
            v = get(res, key)
            if v is not None:
                s["values"].setdefault(key, []).append(v)
    for sc in out.values():
        for s in sc.values():
            s["metrics"] = {k: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
                            for k, v in s["values"].items()}
            del s["values"]
    return out


def scale(key, v):
    unit = METRICS[key][1]
    if unit == "ms":
        return v / 1000.0
    if unit == "KiB":
        return v / 1024.0
    if unit == "MiB":
        return v / 1024.0  # rss is in kB
    return v


def fmt_num(v):
    if v is None:
        return "–"
    a = abs(v)
    if a >= 100000:
        return f"{v / 1000:,.0f}k"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def cell(summary, key):
    if summary is None:
        return "–"
    if summary.get("skipped"):
        return "skipped"
    m = summary["metrics"].get(key)
    if not m:
        return "failed" if summary["errors"] else "–"
    med, lo, hi = (scale(key, m[x]) for x in ("median", "min", "max"))
    text = fmt_num(med)
    if m["n"] > 1:
        text += f" ({fmt_num(lo)}–{fmt_num(hi)})"
    marks = ""
    if summary["client_bound_runs"]:
        marks += "†"
    if summary["lost"]:
        marks += "‡"
    if summary["errors"]:
        marks += "§"
    if summary["disturbed_runs"]:
        marks += "¶"
    return text + marks


def ratio_value(a, b, key):
    """a's median over b's, or None when either has no figure."""
    if not a or not b or a.get("skipped") or b.get("skipped"):
        return None
    ma, mb = a["metrics"].get(key), b["metrics"].get(key)
    if not ma or not mb or not mb["median"]:
        return None
    return ma["median"] / mb["median"]


def ratio(a, b, key):
    v = ratio_value(a, b, key)
    return "–" if v is None else f"{v:.2f}×"


def metric_label(key):
    label, unit, better = METRICS[key]
    text = label + (f" ({unit})" if unit and unit not in ("/s",) else "")
    if better == "high":
        text += " ↑"
    elif better == "low":
        text += " ↓"
    return text


def cluster_ratios(summary):
    """scenario -> server -> metric -> two nodes' median over one node's (cluster scenarios)."""
    out = {}
    for sc, (_, kind) in SCENARIOS.items():
        if kind not in CLUSTER_KINDS or sc not in summary:
            continue
        for base in CLUSTER_SERVERS:
            one, two = summary[sc].get(base), summary[sc].get(base + "-cluster")
            vals = {key: ratio_value(two, one, key)
                    for key in ("deliveries_per_s", "latency_us.p50", "latency_us.p99", "server_cpu_pct")}
            vals = {k: round(v, 3) for k, v in vals.items() if v is not None}
            if vals:
                out.setdefault(sc, {})[base] = vals
    return out


def cluster_markdown(summary, meta):
    """The cluster table: per server, one node, two nodes on Redis, and two nodes / one node."""
    present = [sc for sc, (_, kind) in SCENARIOS.items() if kind in CLUSTER_KINDS and sc in summary]
    if not present:
        return []
    bases = [b for b in CLUSTER_SERVERS if any(b in summary[sc] or b + "-cluster" in summary[sc] for sc in present)]
    lines = ["## Cluster: two nodes on one Redis against one node", ""]
    lines.append("1 channel × 1,000 subscribers, 1 publisher. On two nodes the subscribers alternate between "
                 "the nodes and the publisher is on node 1, so every publish must reach the other node for half of its "
                 "subscribers. "
                 f"Pinning: {meta.get('cluster pinning', meta.get('pinning', '?'))}. "
                 "Server CPU is the sum over the nodes and Redis. "
                 "The 2/1 columns divide the two-node median by the one-node median.")
    lines.append("")
    head = ["Scenario", "Metric"]
    for b in bases:
        head += [f"{SERVER_LABEL[b]} 1 node", SERVER_LABEL[b + "-cluster"], "2/1"]
    both = all(b in bases for b in CLUSTER_SERVERS)
    if both:
        head.append("SB/Socket.IO 2 nodes")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|")
    for sc in present:
        per = summary[sc]
        for i, key in enumerate(SUMMARY_ROWS[SCENARIOS[sc][1]]):
            per_node = key.startswith("latency_us_node")
            row = [f"`{sc}`" if i == 0 else "", metric_label(key)]
            for b in bases:
                one, two = per.get(b), per.get(b + "-cluster")
                row += ["–" if per_node else cell(one, key), cell(two, key),
                        "–" if per_node else ratio(two, one, key)]
            if both:
                row.append(ratio(per.get("switchboard-cluster"), per.get("socketio-cluster"), key))
            lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    return lines


def build_markdown(summary, meta, servers):
    lines = []
    lines.append("# Switchboard benchmark results")
    lines.append("")
    lines.append(f"Generated {meta.get('generated')} by `bench/run.sh{' --quick' if meta.get('quick') else ''}` "
                 f"({meta.get('reps')} run(s) per scenario, {meta.get('duration_s')} s measured each).")
    for k in ("machine", "kernel", "pinning", "cluster pinning", "switchboard", "switchboard config", "node", "ws",
              "socket.io", "redis", "nats-server", "filters fan-out"):
        if meta.get(k):
            lines.append(f"- {k}: {meta[k]}")
    lines.append("")
    lines.append("Cells are the median over the runs, with min–max when there was more than one run. "
                 "Ratios are Switchboard's median over the peer's: above 1× is better for ↑ metrics "
                 "(throughput, connect rate), below 1× is better for ↓ metrics (latency, memory). "
                 "† the load generator used ≥ 90% of its core (the figure is a floor for the server); "
                 "‡ messages lost; § a run failed (see latest.json); ¶ other processes on the machine took more "
                 f"than {DISTURBED_PCT}% of a CPU during a run (`other_cpu_pct`), so the figure is pessimistic.")
    lines.append("")
    peers = [p for p in PEERS if p in servers]
    head = ["Scenario", "Metric"] + [SERVER_LABEL[s] for s in servers] + \
           ([f"SB/{SERVER_LABEL[p]}" for p in peers] if "switchboard" in servers else [])
    rows = []
    for sc, (desc, kind) in SCENARIOS.items():
        if sc not in summary or sc.startswith("history") or kind in CLUSTER_KINDS:
            continue
        per = summary[sc]
        if all(per.get(s) is None for s in servers):
            continue
        for i, key in enumerate(SUMMARY_ROWS[kind]):
            row = [f"`{sc}`" if i == 0 else "", metric_label(key)]
            row += [cell(per.get(s), key) for s in servers]
            if "switchboard" in servers:
                row += [ratio(per.get("switchboard"), per.get(p), key) for p in peers]
            rows.append("| " + " | ".join(row) + " |")
    if rows:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|")
        lines += rows
        lines.append("")
    lines += cluster_markdown(summary, meta)

    if "history-on" in summary or "history-off" in summary:
        lines.append("## Switchboard: history on vs off")
        lines.append("")
        on = summary.get("history-on", {}).get("switchboard")
        off = summary.get("history-off", {}).get("switchboard")
        lines.append("| Metric | history off | history on | on/off |")
        lines.append("|---|---:|---:|---:|")
        for key in ("deliveries_per_s", "publishes_per_s", "latency_us.p50", "latency_us.p99", "server_cpu_pct"):
            lines.append(f"| {metric_label(key)} | {cell(off, key)} | {cell(on, key)} | {ratio(on, off, key)} |")
        lines.append("")

    lines.append("## Scenarios")
    lines.append("")
    for sc, (desc, kind) in SCENARIOS.items():
        if sc in summary:
            lines.append(f"- `{sc}`: {desc}.")
    skipped = [(sc, s, v["skipped"]) for sc, per in summary.items() for s, v in per.items() if v.get("skipped")]
    failed = [(sc, s, v["errors"][0]) for sc, per in summary.items() for s, v in per.items() if v.get("errors")]
    lossy = [(sc, s, v["lost"]) for sc, per in summary.items() for s, v in per.items() if v.get("lost")]
    if skipped or failed or lossy:
        lines.append("")
        lines.append("## Skipped, failed and lossy runs")
        lines.append("")
        grouped = {}
        for sc, s, why in skipped:
            grouped.setdefault((sc, why), []).append(SERVER_LABEL.get(s, s))
        for (sc, why), names in grouped.items():
            lines.append(f"- `{sc}` on {', '.join(names)}: skipped: {why}")
        for sc, s, why in failed:
            lines.append(f"- `{sc}` on {SERVER_LABEL.get(s, s)}: failed: {why}")
        for sc, s, n in lossy:
            lines.append(f"- `{sc}` on {SERVER_LABEL.get(s, s)}: {n} deliveries missing after the drain period")
    lines.append("")
    return "\n".join(lines)


def fmt_tick(v):
    if v == 0:
        return "0"
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def bar_panel(x0, y0, w, h, title, groups, servers, summary, key, unit_scale, unit_label, log=False):
    """A grouped bar chart; groups = [(scenario, label)]; whiskers show min–max."""
    out = []
    out.append(f'<text x="{x0 + w / 2}" y="{y0 - 12}" text-anchor="middle" font-size="14" font-weight="bold">{esc(title)}</text>')
    vals = []
    for sc, _ in groups:
        for s in servers:
            m = ((summary.get(sc) or {}).get(s) or {}).get("metrics", {}).get(key)
            if m:
                vals.append(m["max"] * unit_scale)
    vmax = max(vals) if vals else 1.0
    if log:
        vmin = min(v for v in vals if v > 0) if any(v > 0 for v in vals) else 0.1
        lo = 10 ** math.floor(math.log10(vmin))
        hi = 10 ** math.ceil(math.log10(vmax)) if vmax > 0 else 10
        if hi <= lo:
            hi = lo * 10

        def ypos(v):
            v = max(v, lo)
            return y0 + h - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * h
        ticks = []
        t = lo
        while t <= hi * 1.0001:
            ticks.append(t)
            t *= 10
    else:
        mag = 10 ** math.floor(math.log10(vmax)) if vmax > 0 else 1
        step = mag if vmax / mag > 4 else mag / 2 if vmax / mag > 2 else mag / 5
        hi = math.ceil(vmax / step) * step if vmax > 0 else 1

        def ypos(v):
            return y0 + h - v / hi * h
        ticks = [i * step for i in range(int(round(hi / step)) + 1)]
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    for t in ticks:
        y = ypos(t)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{esc(fmt_tick(t))}</text>')
    out.append(f'<text x="{x0 - 52}" y="{y0 + h / 2}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 {x0 - 52} {y0 + h / 2})">{esc(unit_label)}</text>')
    gw = w / max(1, len(groups))
    bw = gw * 0.8 / max(1, len(servers))
    for gi, (sc, label) in enumerate(groups):
        gx = x0 + gi * gw + gw * 0.1
        out.append(f'<text x="{x0 + gi * gw + gw / 2:.1f}" y="{y0 + h + 16}" text-anchor="middle" font-size="11">{esc(label)}</text>')
        for si, s in enumerate(servers):
            summ = (summary.get(sc) or {}).get(s)
            bx = gx + si * bw
            if not summ or summ.get("skipped") or key not in summ.get("metrics", {}):
                if summ is not None:
                    out.append(f'<text x="{bx + bw / 2:.1f}" y="{y0 + h - 4}" text-anchor="middle" font-size="9" fill="#888">n/a</text>')
                continue
            m = summ["metrics"][key]
            med, mn, mx = m["median"] * unit_scale, m["min"] * unit_scale, m["max"] * unit_scale
            y = ypos(med)
            out.append(f'<rect x="{bx:.1f}" y="{y:.1f}" width="{bw * 0.9:.1f}" height="{max(0.5, y0 + h - y):.1f}" '
                       f'fill="{COLORS[s]}"><title>{esc(SERVER_LABEL[s])} {esc(label)}: {esc(fmt_num(med))} {esc(unit_label)}</title></rect>')
            if m["n"] > 1:
                cx = bx + bw * 0.45
                out.append(f'<line x1="{cx:.1f}" y1="{ypos(mn):.1f}" x2="{cx:.1f}" y2="{ypos(mx):.1f}" stroke="#222"/>')
            marks = ("†" if summ["client_bound_runs"] else "") + ("¶" if summ["disturbed_runs"] else "")
            if marks:
                out.append(f'<text x="{bx + bw * 0.45:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-size="10">{marks}</text>')
    return out


def build_svg(summary, meta, servers):
    W, H = 1100, 470
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
             f'font-family="Helvetica, Arial, sans-serif">',
             f'<rect width="{W}" height="{H}" fill="white"/>',
             f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
             f'Switchboard vs peers: {esc(meta.get("generated", ""))}{" (quick)" if meta.get("quick") else ""}</text>']
    tp_groups = [(sc, sc) for sc in ("fanout", "fanout-http", "wide", "wide-1k", "wide-16k") if sc in summary]
    lat_groups = [(sc, sc) for sc in ("fanout-lat50", "wide-lat50", "fanout-fixed", "wide-fixed") if sc in summary]
    if not tp_groups and not lat_groups:
        # A run of the cluster scenarios alone: their comparison is a table in latest.md.
        parts.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" font-size="14" fill="#444">'
                     'No single-server throughput or latency scenario in this run: see latest.md</text>')
    else:
        parts += bar_panel(90, 70, 500, 300, "Throughput, closed loop (deliveries/s, higher is better)",
                           tp_groups, servers, summary, "deliveries_per_s", 1.0, "deliveries/s")
        parts += bar_panel(690, 70, 380, 300, "p99 latency, open loop (ms, log scale, lower is better)",
                           lat_groups, servers, summary, "latency_us.p99", 1e-3, "ms", log=True)
    lx = 90
    for s in servers:
        parts.append(f'<rect x="{lx}" y="{H - 44}" width="14" height="14" fill="{COLORS[s]}"/>')
        parts.append(f'<text x="{lx + 20}" y="{H - 32}" font-size="12">{esc(SERVER_LABEL[s])}</text>')
        lx += 140
    parts.append(f'<text x="{lx + 10}" y="{H - 32}" font-size="11" fill="#444">bars: median; whiskers: min–max</text>')
    parts.append(f'<text x="90" y="{H - 10}" font-size="11" fill="#444">'
                 f'†: the load generator used ≥ 90% of its CPU (a floor for the server); ¶: the machine was busy with other work during a run</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def cmd_build(args):
    path, out_dir = args[0], Path(args[1])
    meta = {"generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    rest = args[2:]
    i = 0
    while i < len(rest):
        if rest[i] == "--quick":
            meta["quick"] = True
        elif rest[i] == "--meta" and i + 1 < len(rest):
            k, _, v = rest[i + 1].partition("=")
            meta[k] = int(v) if v.isdigit() else v
            i += 1
        i += 1
    meta.setdefault("quick", False)
    runs = load_runs(path)
    summary = summarize(runs)
    servers = [s for s in SERVERS if any(s in per for per in summary.values())]
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"meta": meta, "servers": servers,
           "scenarios": {sc: {"description": SCENARIOS.get(sc, ("", ""))[0], "servers": per}
                         for sc, per in summary.items()},
           "cluster_ratios": cluster_ratios(summary),
           "runs": runs}
    (out_dir / "latest.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out_dir / "latest.md").write_text(build_markdown(summary, meta, servers))
    (out_dir / "latest.svg").write_text(build_svg(summary, meta, servers))
    bad = sum(len(v["errors"]) for per in summary.values() for v in per.values())
    print(f"report: {len(runs)} runs, {bad} failed -> {out_dir}/latest.{{json,md,svg}}")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "median" and len(sys.argv) == 6:
        cmd_median(sys.argv[2:])
    elif len(sys.argv) in (7, 8) and sys.argv[1] == "append":
        cmd_append(sys.argv[2:])
    elif len(sys.argv) == 2 and sys.argv[1] == "disturbed":
        cmd_disturbed()
    elif len(sys.argv) == 6 and sys.argv[1] == "skip":
        cmd_skip(sys.argv[2:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "build":
        cmd_build(sys.argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
