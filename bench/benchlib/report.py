"""The results file: a Markdown report (versions, load of the box, the side-by-side table with
ratios to direct, per-process details, the issue's targets and whether each is met) and a PNG chart
drawn by gnuplot.
"""
import math
import subprocess
from pathlib import Path

from .env import BOX_OWNERS, THREAD_GROUP_NAMES

NA = "–"


def metric(results, key, name, *sub):
    v = results.get(key, {}).get("metrics", {}).get(name)
    for s in sub:
        if v is None:
            return None
        v = v.get(s) if isinstance(v, dict) else None
    return v


def ok(x):
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def f(x, digits=None):
    if not ok(x):
        return NA
    if digits is None:
        digits = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return f"{x:,.{digits}f}"


def ratio(x, base):
    return f" ({x / base:.2f}×)" if ok(x) and ok(base) and base else ""


def cpu_hop(results, key, name, hop_roles):
    per = metric(results, key, name, "cpu_s_per_10k")
    if not per:
        return None
    return sum(v for r, v in per.items() if r in hop_roles)


def cpu_all(results, key, name, roles=("proxy", "agent", "pgbouncer", "haproxy")):
    per = metric(results, key, name, "cpu_s_per_10k")
    if not per:
        return None
    return sum(v for r, v in per.items() if r in roles)


def rss_session(results, key, roles=None):
    """KiB per idle session of the path's proxying processes. For project-tunnel only tsh counts:
    its proxy and agent already grew (and freed) memory for the project path's sessions, so their
    second measurement undercounts; the project column has their figure."""
    if roles is None:
        roles = ("tsh",) if key == "project-tunnel" else ("proxy", "agent", "pgbouncer", "haproxy")
    per = metric(results, key, "idle_memory", "kib_per_session")
    if not per:
        return None
    return sum(v for r, v in per.items() if r in roles)


HOP = {"project": ("proxy",), "project-tunnel": ("proxy",), "pgbouncer": ("pgbouncer",),
       "haproxy": ("haproxy",), "mysql-project": ("proxy",), "mysql-project-tunnel": ("proxy",), "mysql-haproxy": ("haproxy",)}


def box_cell(results, key, name):
    """The whole machine's CPU per transaction and how much of it stayed idle."""
    us, idle = metric(results, key, name, "box_cpu_us_per_tx"), metric(results, key, name, "box_idle_share")
    if not ok(us):
        return NA
    return f(us, 0) + (f" ({idle * 100:.0f} % idle)" if ok(idle) else "")


BOX_ROW = "CPU µs per tx, whole box (database, client, proxies, kernel; idle share)"
SPLIT_ROW = "… of which database / client / proxying processes / rest"


def split_cell(results, key, name):
    """The whole box's CPU per transaction by owner (env.box_split)."""
    split = metric(results, key, name, "box_split_us_per_tx")
    if not isinstance(split, dict) or not all(ok(split.get(k)) for k in BOX_OWNERS):
        return NA
    return " / ".join(f(split[k], 0) for k in BOX_OWNERS)


def single_rows(results, keys):
    """One client, one query at a time: the latency a path adds when nothing queues."""
    m = "select_c1"
    if not any(metric(results, k, m, "latency_avg_ms") is not None for k in keys):
        return []
    base = metric(results, "direct", m, "latency_avg_ms")
    cells = []
    for k in keys:
        avg, p99 = metric(results, k, m, "latency_avg_ms"), metric(results, k, m, "latency_p99_ms")
        if not ok(avg):
            cells.append(NA)
            continue
        added = f", +{(avg - base) * 1000:.0f} µs" if ok(base) and k != "direct" else ""
        cells.append(f"{avg * 1000:.0f} / {p99 * 1000:.0f}{added}" if ok(p99) else f"{avg * 1000:.0f}{added}")
    return [("latency at 1 client, avg / p99 (µs; avg added over direct)", cells),
            ("CPU s per 10 000 tx, all proxying processes, 1 client", [f(cpu_all(results, k, m), 3) for k in keys]),
            (f"{BOX_ROW}, 1 client", [box_cell(results, k, m) for k in keys]),
            (f"{SPLIT_ROW}, 1 client", [split_cell(results, k, m) for k in keys])]


def pg_rows(results, keys, clients):
    rows = single_rows(results, keys) if 1 not in clients else []
    for c in clients:
        m = f"select_c{c}"
        base = metric(results, "direct", m, "tps")
        rows.append((f"TPS, `pgbench -S`, {c} clients",
                     [f(metric(results, k, m, "tps")) + ratio(metric(results, k, m, "tps"), base)
                      for k in keys]))
        rows.append((f"latency avg / p99 (ms), {c} clients",
                     [f"{f(metric(results, k, m, 'latency_avg_ms'), 2)} / "
                      f"{f(metric(results, k, m, 'latency_p99_ms'), 2)}" for k in keys]))
        rows.append((f"CPU s per 10 000 tx, proxy hop, {c} clients",
                     [f(cpu_hop(results, k, m, HOP.get(k, ())), 3) for k in keys]))
        rows.append((f"CPU s per 10 000 tx, all proxying processes, {c} clients",
                     [f(cpu_all(results, k, m), 3) for k in keys]))
        rows.append((f"{BOX_ROW}, {c} clients", [box_cell(results, k, m) for k in keys]))
        rows.append((f"{SPLIT_ROW}, {c} clients", [split_cell(results, k, m) for k in keys]))
        rows.append((f"(others' CPU load during the {c}-client run, CPUs)",
                     [f(metric(results, k, m, "others_cpus"), 2) for k in keys]))
    base = metric(results, "direct", "connection_rate", "connections_per_s")
    rows.append(("new connections/s (`pgbench -C -S`)",
                 [f(metric(results, k, "connection_rate", "connections_per_s"))
                  + ratio(metric(results, k, "connection_rate", "connections_per_s"), base)
                  for k in keys]))
    base = metric(results, "direct", "time_to_first_query", "median_ms")
    cells = []
    for k in keys:
        v = metric(results, k, "time_to_first_query", "median_ms")
        cells.append(f(v, 2) + (f" ({v - base:+.2f})" if ok(v) and ok(base) and k != "direct" else ""))
    rows.append(("time to first query, median (ms; + over direct)", cells))
    rows.append(("RSS per idle session (KiB; proxy + agent for project, tsh for project-tunnel)",
                 [f(rss_session(results, k), 1) for k in keys]))
    base = metric(results, "direct", "copy", "mib_per_s")
    rows.append(("one large result set, COPY TO STDOUT (MiB/s)",
                 [f(metric(results, k, "copy", "mib_per_s")) + ratio(metric(results, k, "copy", "mib_per_s"), base)
                  for k in keys]))
    rows.append(("CPU s per GiB streamed, all proxying processes",
                 [f(sum((metric(results, k, "copy", "cpu_s_per_gib") or {}).values()), 2)
                  if metric(results, k, "copy", "cpu_s_per_gib") else NA for k in keys]))
    return rows


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, cells in rows:
        out.append("| " + " | ".join([label] + list(cells)) + " |")
    return "\n".join(out)


def targets(results, clients):
    c = 16 if 16 in clients else clients[0]
    m = f"select_c{c}"
    rows = []

    def add(name, measured, met):
        status = "not measured" if met is None else ("**met**" if met else "**missed**")
        rows.append((name, [measured, status]))

    p, b = metric(results, "project", m, "tps"), metric(results, "pgbouncer", m, "tps")
    pbox, bbox = metric(results, "project", m, "box_cpu_us_per_tx"), metric(results, "pgbouncer", m, "box_cpu_us_per_tx")
    pdb, bdb = (metric(results, "project", m, "box_split_us_per_tx", "database"),
                metric(results, "pgbouncer", m, "box_split_us_per_tx", "database"))
    db = f", of which PostgreSQL {f(pdb, 0)} vs {f(bdb, 0)}" if ok(pdb) and ok(bdb) else ""
    box = f" (whole box {f(pbox, 0)} vs {f(bbox, 0)} µs CPU per tx{db})" if ok(pbox) and ok(bbox) else ""
    add(f"project TPS at {c} clients >= PgBouncer's", f"{f(p)} vs {f(b)}{box}",
        (p >= b) if ok(p) and ok(b) else None)
    ph, bh = cpu_hop(results, "project", m, ("proxy",)), cpu_hop(results, "pgbouncer", m, ("pgbouncer",))
    add("proxy hop CPU per tx <= PgBouncer's", f"{f(ph, 3)} vs {f(bh, 3)} s/10k tx",
        (ph <= bh) if ok(ph) and ok(bh) else None)
    pa = cpu_all(results, "project", m, ("proxy", "agent"))
    add("full path (proxy + agent) CPU per tx <= 1.3 × PgBouncer's",
        f"{f(pa, 3)} vs {f(bh * 1.3 if ok(bh) else None, 3)} s/10k tx",
        (pa <= 1.3 * bh) if ok(pa) and ok(bh) else None)
    t, d = (metric(results, "project", "time_to_first_query", "median_ms"),
            metric(results, "direct", "time_to_first_query", "median_ms"))
    add("connection setup adds < 3 ms at the median over direct TLS",
        f"{t - d:+.2f} ms ({f(t, 2)} vs {f(d, 2)})" if ok(t) and ok(d) else NA,
        (t - d < 3.0) if ok(t) and ok(d) else None)
    r = rss_session(results, "project", ("proxy", "agent"))
    add("< 64 KiB resident per idle session (proxy + agent)", f"{f(r, 1)} KiB",
        (r < 64.0) if ok(r) else None)
    cp, cd = metric(results, "project", "copy", "mib_per_s"), metric(results, "direct", "copy", "mib_per_s")
    add("large result set at >= 80 % of direct throughput",
        f"{100.0 * cp / cd:.0f} % ({f(cp)} vs {f(cd)} MiB/s)" if ok(cp) and ok(cd) else NA,
        (cp >= 0.8 * cd) if ok(cp) and ok(cd) else None)
    return rows


def details(results, keys):
    rows = []
    for k in keys:
        roles = set()
        for name, v in results.get(k, {}).get("metrics", {}).items():
            if isinstance(v, dict):
                for sub in ("cpu_s_per_10k", "rss_base_kib", "cpu_s_per_1k_connections", "cpu_s_per_gib"):
                    roles.update((v.get(sub) or {}).keys())
        for role in sorted(roles):
            sel = [n for n in results[k]["metrics"] if n.startswith(("select_c", "point_select_t"))]
            cpu = ", ".join(f"{n.split('_')[-1]}: {f(metric(results, k, n, 'cpu_s_per_10k', role), 3)}"
                            for n in sel)
            base = metric(results, k, "idle_memory", "rss_base_kib", role)
            held = metric(results, k, "idle_memory", "rss_held_kib", role)
            rows.append((f"{k} / {role}", [
                cpu or NA,
                f(metric(results, k, "connection_rate", "cpu_s_per_1k_connections", role), 3),
                f(base / 1024.0 if ok(base) else None, 1),
                f(held / 1024.0 if ok(held) else None, 1),
                f(metric(results, k, "idle_memory", "kib_per_session", role), 1),
                f(metric(results, k, "copy", "cpu_s_per_gib", role), 2)]))
    return rows


def thread_rows(results, keys):
    """CPU per 10k tx of the project's processes by thread group (benchlib/env.thread_cpu):
    how much of the proxy's figure is the Auth Service storing the audit events, which a peer
    without an audit log does not do."""
    rows = []
    for k in keys:
        for name, v in results.get(k, {}).get("metrics", {}).items():
            by_role = v.get("cpu_s_per_10k_by_thread") if isinstance(v, dict) else None
            for role, groups in sorted((by_role or {}).items()):
                rows.append((f"{k} / {role}, {name.split('_')[-1]}",
                             [f(groups.get(g), 3) for g in THREAD_GROUP_NAMES]
                             + [f(sum(groups.values()), 3)]))
    return rows


def mysql_rows(results, keys, thread_counts):
    rows = []
    for threads in thread_counts:
        rows += _mysql_rows(results, keys, threads)
    return rows


def _mysql_rows(results, keys, threads):
    m = f"point_select_t{threads}"
    base = metric(results, "mysql-direct", m, "tps")
    return [
        (f"TPS, sysbench oltp_point_select, {threads} threads",
         [f(metric(results, k, m, "tps")) + ratio(metric(results, k, m, "tps"), base) for k in keys]),
        (f"latency avg / p99 (ms), {threads} threads",
         [f"{f(metric(results, k, m, 'latency_avg_ms'), 2)} / {f(metric(results, k, m, 'latency_p99_ms'), 2)}"
          for k in keys]),
        (f"CPU s per 10 000 tx, proxy hop, {threads} threads",
         [f(cpu_hop(results, k, m, HOP.get(k, ())), 3) for k in keys]),
        (f"CPU s per 10 000 tx, all proxying processes, {threads} threads",
         [f(cpu_all(results, k, m), 3) for k in keys]),
        (f"{BOX_ROW}, {threads} threads", [box_cell(results, k, m) for k in keys]),
        (f"{SPLIT_ROW}, {threads} threads", [split_cell(results, k, m) for k in keys]),
        (f"(others' CPU load during the {threads}-thread run, CPUs)",
         [f(metric(results, k, m, "others_cpus"), 2) for k in keys]),
    ]


def chart(out_png, results, pg_keys, my_keys, clients, threads, target_rows=None):
    """Eight small bar charts in one PNG (gnuplot, pngcairo)."""
    data_dir = out_png.parent / (out_png.stem + ".chartdata")
    data_dir.mkdir(exist_ok=True)

    def put(name, keys, cols):
        """The data file's path, or None when no path has a value (e.g. --mysql-paths none)."""
        lines = []
        any_value = False
        for k in keys:
            vals = [c(k) for c in cols]
            any_value = any_value or any(ok(v) for v in vals)
            lines.append(f'"{k}" ' + " ".join(f"{v:.6g}" if ok(v) else "?" for v in vals))
        (data_dir / name).write_text("\n".join(lines) + "\n")
        return str(data_dir / name) if any_value else None

    c16 = f"select_c{16 if 16 in clients else clients[0]}"
    single = any(ok(metric(results, k, "select_c1", "latency_avg_ms")) for k in pg_keys) and 1 not in clients
    panels = [
        ("TPS, pgbench -S (higher is better)",
         put("tps", pg_keys, [lambda k, c=c: metric(results, k, f"select_c{c}", "tps") for c in clients]),
         [f"{c} clients" for c in clients]),
        ("Latency, ms (lower is better)",
         put("lat", pg_keys, ([lambda k: metric(results, k, "select_c1", "latency_avg_ms")] if single else [])
             + [lambda k: metric(results, k, c16, "latency_avg_ms"),
                lambda k: metric(results, k, c16, "latency_p99_ms")]),
         (["avg, 1 client"] if single else []) + [f"avg, {c16[8:]} clients", f"p99, {c16[8:]} clients"]),
        ("CPU s per 10k tx (lower is better)",
         put("cpu", pg_keys, [lambda k: cpu_hop(results, k, c16, HOP.get(k, ())),
                              lambda k: cpu_all(results, k, c16)]), ["proxy hop", "all proxying"]),
        ("New connections/s (higher is better)",
         put("conn", pg_keys, [lambda k: metric(results, k, "connection_rate", "connections_per_s")]),
         ["pgbench -C -S"]),
        ("Time to first query, median ms (lower is better)",
         put("ttfq", pg_keys, [lambda k: metric(results, k, "time_to_first_query", "median_ms")]),
         ["connect + SELECT 1"]),
        ("RSS per idle session, KiB (lower is better)",
         put("rss", pg_keys, [lambda k: rss_session(results, k)]), ["proxying processes"]),
        ("COPY result set, MiB/s (higher is better)",
         put("copy", pg_keys, [lambda k: metric(results, k, "copy", "mib_per_s")]), ["COPY TO STDOUT"]),
        ("MySQL point select TPS, sysbench (higher is better)",
         put("mysql", my_keys, [lambda k, t=t: metric(results, k, f"point_select_t{t}", "tps")
                                for t in threads]),
         [f"{t} threads" for t in threads]),
    ]
    script = [
        "set terminal pngcairo size 1800,1250 font 'DejaVu Sans,10'",
        f"set output '{out_png}'",
        "set datafile missing '?'",
        "set style data histograms",
        "set style histogram clustered gap 1",
        "set style fill solid 0.85 border -1",
        "set boxwidth 0.9",
        "set grid ytics",
        "set yrange [0:*]",
        "set xtics rotate by -25 scale 0",
        "set key top right font ',9'",
        "fmt(v) = v >= 10000 ? sprintf('%.1fk', v / 1000) : (v >= 100 ? sprintf('%.0f', v) : "
        "(v >= 10 ? sprintf('%.1f', v) : sprintf('%.2f', v)))",
        "set offsets 0, 0, graph 0.08, 0",
        f"set multiplot layout 3,3 title 'Database proxy benchmark {out_png.stem}' font ',14'",
    ]
    for title, path, names in panels:
        if path is None:
            continue  # gnuplot cannot draw a panel without data ("x range is invalid")
        script.append(f"set title '{title}'")
        parts = []
        for i, n in enumerate(names):
            src = f"'{path}'" if i == 0 else "''"
            parts.append(f"{src} using {i + 2}:xtic(1) title '{n}'")
        n = len(names)
        for i in range(n):
            # Clustered histogram geometry: bar i of a group of n sits at row + (i - (n-1)/2)/(n+gap).
            off = (i - (n - 1) / 2.0) / (n + 1)
            col = i + 2
            parts.append(f"'' using ($0 + {off:.4f}):{col}:(fmt(${col})) "
                         f"with labels offset 0,0.6 font ',8' notitle")
        script.append("plot " + ", ".join(parts))
    if target_rows:
        # The ninth panel: the targets, met or missed, in words.
        script += ["set title 'Targets (issue 8), project path'", "unset border", "unset xtics",
                   "unset ytics", "unset grid", "unset key", "set xrange [0:1]", "set yrange [0:1]"]
        for i, (name, cells) in enumerate(target_rows):
            status = cells[1].replace("*", "")
            color = {"met": "#1a9850", "missed": "#d73027"}.get(status, "#777777")
            y = 0.92 - i * 0.15
            text = name.replace("'", "''")  # gnuplot's single-quoted strings double a quote
            script.append(f"set label {i + 1} \"{status.upper()}\" at 0.0,{y:.2f} "
                          f"font ',11' textcolor rgb '{color}'")
            script.append(f"set label {i + 11} '{text}' at 0.22,{y:.2f} font ',9'")
            measured = cells[0].replace("'", "''")
            script.append(f"set label {i + 21} '{measured}' at 0.22,{y - 0.06:.2f} font ',8' "
                          "textcolor rgb '#555555'")
        script.append("plot 2 notitle")
    script.append("unset multiplot")
    try:
        cp = subprocess.run(["gnuplot"], input="\n".join(script) + "\n", capture_output=True,
                            text=True, timeout=60)
    except FileNotFoundError:
        return "gnuplot is not installed (apt-get install gnuplot-nox); the tables are complete"
    finally:
        for p in data_dir.iterdir():
            p.unlink()
        data_dir.rmdir()
    if cp.returncode != 0:
        return f"gnuplot failed: {cp.stderr.strip()[-500:]}"
    return None


def _one_line(text, limit=700):
    """An error on one line: repeated lines (one per failed client thread) shown once."""
    seen, parts = set(), []
    for line in text.splitlines():
        line = line.strip()
        if line and line not in seen:
            seen.add(line)
            parts.append(line)
    out = " / ".join(parts)
    return out if len(out) <= limit else out[:limit] + " ..."


def write(out_dir, stem, meta, results, args):
    out_dir = Path(out_dir)
    pg_keys = [k for k in ["direct", "project", "project-tunnel", "pgbouncer", "haproxy"]
               if k in results and k in args.paths]
    my_keys = [k for k in ["mysql-direct", "mysql-project", "mysql-project-tunnel", "mysql-haproxy"]
               if k in results and k in args.mysql_paths]
    png = out_dir / f"{stem}.png"
    target_rows = targets(results, args.clients) if "project" in args.paths else None
    chart_error = chart(png, results, pg_keys, my_keys, args.clients, args.mysql_threads, target_rows)
    L = [f"# Benchmark {stem}", "",
         f"Run {meta['date']} with `{meta['command']}` ({meta.get('elapsed_s', '?')} s); "
         f"{meta['machine']}. Everything on 127.0.0.1.", ""]
    if meta.get("interrupted"):
        L += [f"**Partial results**: the run was interrupted ({meta['interrupted']}).", ""]
    lb, le = " ".join(meta["loadavg_start"]), " ".join(meta.get("loadavg_end", ["?"]))
    L.append(f"Load average (1/5/15 min) at start: {lb}; at end: {le}.")
    load = meta.get("other_load")
    if load:
        groups = {}
        for k, v in load.get("top_commands_cpu_s", {}).items():
            # Kernel workers rename themselves after each work item: one line for all of them.
            name = "kworker (kernel threads)" if k.startswith("kworker") else k
            groups[name] = groups.get(name, 0.0) + v
        top = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(groups.items(), key=lambda kv: -kv[1]))
        said = (f"outside the benchmark's own process tree the box spent on average "
                f"{load['avg_cpus']:.2f} CPUs (at most {load['max_cpus']:.2f} in a "
                f"{load['interval_s']:.0f} s sample) of its {meta.get('cpus', '?')}"
                + (f"; most CPU: {top}." if top else "."))
        if load["avg_cpus"] >= 0.25:
            L.append(f"**Other processes were running**: {said} Absolute numbers are lower than on a "
                     "quiet box; the ratios between paths, measured within minutes of each other, carry "
                     "the comparison, and the 'others' rows show the load during each measurement.")
        else:
            L.append(f"Other processes were running at times (this machine is shared with helpers "
                     f"compiling): {said} The 'others' rows show the load during each measurement.")
    L += ["", "![chart](" + png.name + ")" if not chart_error else f"(chart: {chart_error})", ""]
    s = args
    copies = [metric(results, k, "copy") for k in results]
    copy_runs = max((len(c["runs"]) for c in copies if c), default=0)
    in_turn = any(c.get("in_turn") for c in copies if c)
    if copy_runs <= 1:
        copy_how = "one run per path"
    elif in_turn:
        copy_how = f"best of {copy_runs} rounds, the paths taken in turn"
    else:
        copy_how = f"best of {copy_runs} runs per path"
    L += ["## Settings", "",
          f"pgbench -S runs: {s.duration} s each after a {s.warmup} s warm-up, `-j 2`, clients "
          f"{', '.join(map(str, s.clients))}; latency avg/p99 from the `pgbench -l` per-transaction logs"
          + (f"; one client (one query at a time, for the latency a path adds when nothing queues) for "
             f"{s.single_duration} s" if getattr(s, "single_duration", 0) and 1 not in s.clients else "") + ". "
          f"`pgbench -C -S`: {s.conn_clients} clients for {s.conn_duration} s. Time to first query: "
          f"{s.ttfq_samples} connections one after another (libpq connect + `SELECT 1` + close). "
          f"Idle sessions: {s.idle_sessions} held open (each ran `SELECT 1`), RSS (VmRSS) of the proxying "
          f"processes before and while held. COPY: one result set of {s.copy_mib} MiB "
          f"(`COPY (SELECT repeat('x', 999) FROM generate_series(...)) TO STDOUT` through psql into "
          f"/dev/null), {copy_how}. CPU = utime + stime from /proc/<pid>/stat of each proxying process. "
          f"PostgreSQL authenticates every path with SCRAM-SHA-256 over TLS; pgbench scale {s.scale}.",
          "",
          "Paths: **direct** = libpq `sslmode=require` to PostgreSQL; **project** = psql/pgbench → the "
          "proxy's native PostgreSQL listener (mTLS with the `tsh db login` certificate, "
          "`sslmode=verify-full`) → reverse tunnel → agent → PostgreSQL (TLS, verify-full); "
          "**project-tunnel** = the same behind `tsh proxy db --tunnel` (plain local connection; the "
          "tsh process is counted in 'all proxying processes'); **pgbouncer** = session pooling, TLS "
          "client and server side; **haproxy** = TCP mode (TLS end to end). The project runs as two "
          "processes: `proxy` (Auth + Proxy Services) and `agent` (Database Service).", ""]
    L += ["## PostgreSQL", "", table(["metric"] + pg_keys, pg_rows(results, pg_keys, args.clients)), ""]
    if my_keys:
        L += ["## MySQL (MariaDB 10.11)", "",
              table(["metric"] + my_keys, mysql_rows(results, my_keys, args.mysql_threads)), ""]
    if "project" in args.paths:
        L += ["## Targets (issue 8)", "", table(["target", "measured", "status"], targets(results, args.clients)), ""]
    L += ["## Per process", "",
          table(["path / process", "CPU s per 10k tx (per load)", "CPU s per 1k new conns",
                 "RSS before idle sessions (MiB)", "RSS with idle sessions (MiB)", "KiB per idle session",
                 "CPU s per GiB of COPY"],
                details(results, pg_keys + my_keys)), ""]
    by_thread = thread_rows(results, pg_keys)
    if by_thread:
        L += ["### The project's CPU s per 10k tx by thread", "",
              "Event loops: the main thread and `tp-loop-N` (the sessions). Auth workers: `tp-auth-N`, "
              "the Auth API, which stores every query's audit event (SQLite and `events.log`). Audit "
              "upload: the agent's uploader. Other: everything else (e.g. resolver threads).", "",
              table(["path / process, load"] + list(THREAD_GROUP_NAMES) + ["total"], by_thread), ""]
    notes = out_dir / f"{stem}.notes.md"
    if notes.exists():
        # Hand-written analysis (profiles, likely causes of missed targets) kept across --render.
        L += [notes.read_text().rstrip(), ""]
    errors = [(k, e) for k, v in results.items() for e in v.get("errors", [])]
    if errors:
        L += ["## Not measured / errors", ""] + [f"- {k}: {_one_line(e)}" for k, e in errors] + [""]
    L += ["## Versions", "", table(["component", "version"],
                                   [(k, [v]) for k, v in meta["versions"].items()]), "",
          f"Raw numbers: [{stem}.json]({stem}.json).", ""]
    md = out_dir / f"{stem}.md"
    md.write_text("\n".join(L))
    return md
