#!/usr/bin/python3
"""Turn the raw output of bench/run.sh into <prefix>.md, <prefix>.json and
<prefix>.png, and print the markdown to stdout.

usage: report.py RAW_DIR OUT_PREFIX

RAW_DIR holds: meta.txt (key=value), hf-<bench>.json (hyperfine
--export-json), checks.tsv, failures.tsv, strace-{sys,wall}-<rt>-<i>.txt
(strace -f -c [-w] -o), trace-<rt>-<i>.json (husk-trace --json -o),
rss-<rt>.txt (/usr/bin/time -f %M, kB per line), porcelain-skipped,
trace-skipped."""
import glob
import json
import os
import re
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ORDER = ["husk", "crun", "runc", "unshare", "podman"]
COLORS = {"husk": "#2a9d8f", "crun": "#e9c46a", "runc": "#e76f51", "unshare": "#8d99ae",
          "podman": "#9b72aa"}
# Syscalls that mostly wait for another process or thread; their wall time is
# not work the runtime does.
WAITS = {"wait4", "waitid", "futex", "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll",
         "ppoll", "select", "pselect6", "nanosleep", "clock_nanosleep", "rt_sigsuspend",
         "pause", "rt_sigtimedwait"}

BENCHES = [
    ("run", "1. `run` of the bundle (`/bin/true`)",
     "One `RUNTIME run --bundle B ID` per measurement: create the namespaces, cgroups, mounts, "
     "exec `/bin/true`, wait, delete. Floor: `unshare -fpimun --mount-proc true`."),
    ("run-isolated", "1b. `run`, isolated starts (100 ms idle before each)",
     "The same commands with `--prepare 'sleep 0.1'`: no start benefits from the kernel state "
     "left warm by the previous one. On cgroup v1 the first `cgroup.procs` write after an idle "
     "period waits for an RCU grace period (see the timeline below)."),
    ("create-start-delete", "2. `create` + `start` + `delete --force`",
     "`sh -c 'R create --bundle B ID && R start ID && R delete --force ID'` (youki's method). "
     "The `sh + 3 × true` row is the cost of the shell and three fork+exec, included in every row."),
    ("sequence", "3. containers started in sequence",
     "`sh -c` loop of `RUNTIME run` (crun's README method against runc); per-container = total / N."),
    ("exec", "4. `exec` of `/bin/true` into a running container",
     "`RUNTIME exec ID /bin/true` into a container running `sleep`."),
    ("porcelain", "5. porcelain: `husk run --rm busybox true` vs `podman run --rm`",
     "Image-based start and removal, in a private network namespace; podman with private "
     "storage (overlay) and config, runtime crun."),
]


def sort_key(name):
    base = name.split()[0]
    return (ORDER.index(base) if base in ORDER else len(ORDER), name)


def ms(x):
    return "–" if x is None else f"{x * 1e3:.2f}"


def load_meta(raw):
    meta = {}
    path = os.path.join(raw, "meta.txt")
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return meta


def quantile(xs, q):
    xs = sorted(xs)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def load_hf(raw, name):
    """hf-NAME.json, or the rounds hf-NAME-1.json, hf-NAME-2.json, ... pooled per command."""
    paths = sorted(glob.glob(os.path.join(raw, f"hf-{name}-[0-9]*.json")),
                   key=lambda p: int(re.search(r"-(\d+)\.json$", p).group(1)))
    single = os.path.join(raw, f"hf-{name}.json")
    if not paths and os.path.exists(single):
        paths = [single]
    pooled = {}
    for p in paths:
        try:
            results = json.load(open(p))["results"]
        except (ValueError, OSError, KeyError):
            continue
        for r in results:
            e = pooled.setdefault(r["command"], {"times": [], "user": [], "system": [],
                                                 "round_medians": []})
            times = r.get("times") or []
            e["times"] += times
            e["user"] += [r["user"]] * len(times)
            e["system"] += [r["system"]] * len(times)
            e["round_medians"].append(r["median"])
    rows = []
    for cmd, e in pooled.items():
        t = e["times"]
        if not t:
            continue
        rows.append({"command": cmd, "mean": statistics.fmean(t),
                     "stddev": statistics.stdev(t) if len(t) > 1 else 0.0,
                     "median": statistics.median(t), "q1": quantile(t, 0.25),
                     "q3": quantile(t, 0.75), "min": min(t), "max": max(t),
                     "user": statistics.fmean(e["user"]), "system": statistics.fmean(e["system"]),
                     "runs": len(t), "round_medians": e["round_medians"]})
    rows.sort(key=lambda r: sort_key(r["command"]))
    return rows or None


def parse_strace(path):
    """strace -c table -> {syscall: (calls, seconds)}; the total row is dropped."""
    out = {}
    for line in open(path):
        t = line.split()
        if len(t) < 5 or t[-1] == "total" or not re.match(r"^[\d.]+$", t[0]):
            continue
        try:
            out[t[-1]] = (int(t[3]), float(t[1]))
        except ValueError:
            continue
    return out


def find_syscall_table(doc):
    """Find the per-syscall histogram in husk-trace's JSON without knowing its exact shape:
    the first list of objects with a syscall name, a count and a total time."""
    name_keys = ("syscall", "name")
    count_keys = ("count", "calls")
    time_keys = {"total_ns": 1e-9, "total_time_ns": 1e-9, "time_ns": 1e-9, "total_us": 1e-6,
                 "total_usec": 1e-6, "total_ms": 1e-3, "total_s": 1.0, "total_seconds": 1.0}
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            if node and all(isinstance(e, dict) for e in node):
                e = node[0]
                nk = next((k for k in name_keys if k in e), None)
                ck = next((k for k in count_keys if k in e), None)
                tk = next((k for k in time_keys if k in e), None)
                if nk and ck:
                    return {x[nk]: (int(x[ck]), float(x.get(tk, 0)) * time_keys.get(tk, 0))
                            for x in node if nk in x and ck in x}
            stack.extend(node)
    return None


def median_profile(profiles):
    """Median over samples of total calls / time, and the median per-syscall count."""
    if not profiles:
        return None
    calls = [sum(c for c, _ in p.values()) for p in profiles]
    secs = [sum(s for _, s in p.values()) for p in profiles]
    nowait = [sum(s for n, (_, s) in p.items() if n not in WAITS) for p in profiles]
    names = set().union(*profiles)
    per = {n: statistics.median([p.get(n, (0, 0))[0] for p in profiles]) for n in names}
    per_t = {n: statistics.median([p.get(n, (0, 0))[1] for p in profiles]) for n in names}
    return {"samples": len(profiles), "calls": statistics.median(calls),
            "seconds": statistics.median(secs), "seconds_no_waits": statistics.median(nowait),
            "top_by_count": sorted(per.items(), key=lambda kv: -kv[1])[:8],
            "top_by_time": [(n, t) for n, t in sorted(per_t.items(), key=lambda kv: -kv[1])[:8]]}


def norm(text):
    """Make paths and ids comparable between runs."""
    text = re.sub(r"/tmp/husk-bench\.\w+", "$WORK", str(text))
    return re.sub(r"hb\d+-(\w+)-(\w+)", r"$ID", text)


def trace_phases(doc):
    """Milestones of one start from husk-trace's timeline, in ns from the runtime's execve."""
    evs = sorted((e for e in doc.get("events", []) if "time_ns" in e), key=lambda e: e["time_ns"])
    if not evs:
        return None
    t0 = evs[0]["time_ns"]
    end = max(e["time_ns"] + e.get("duration_ns", 0) for e in evs)
    ns = next((e for e in evs if e.get("event") in ("clone", "clone3", "unshare")
               and "CLONE_NEW" in str(e.get("args", {}).get("flags", ""))), None)
    ex = [e for e in evs if e.get("event") == "execve" and e.get("ret", 0) == 0]
    cg = [e for e in evs if e.get("event") == "write" and e.get("args", {}).get("fs") == "cgroup"]
    join = [e for e in cg if re.search(r"/(cgroup\.procs|tasks)$", str(e["args"].get("file", "")))]
    return {
        "namespaces_at": ns["time_ns"] - t0 if ns else None,
        "namespaces_ns": ns.get("duration_ns", 0) if ns else None,
        "cgroup_join_ns": sum(e.get("duration_ns", 0) for e in join),
        "cgroup_join_max_ns": max((e.get("duration_ns", 0) for e in join), default=0),
        "cgroup_other_ns": sum(e.get("duration_ns", 0) for e in cg if e not in join),
        "container_exec_at": ex[-1]["time_ns"] - t0 if len(ex) > 1 else None,
        "total_ns": end - t0,
        "slowest": [{"comm": e.get("comm"), "event": e.get("event"),
                     "args": norm(e.get("args", {}).get("file") or e.get("args", {}).get("flags")
                                  or e.get("args", {}).get("filename")
                                  or e.get("args", {}).get("target") or ""),
                     "ms": e.get("duration_ns", 0) / 1e6}
                    for e in sorted(evs, key=lambda e: -e.get("duration_ns", 0))[:6]],
    }


def median_phases(phases):
    phases = [p for p in phases if p]
    if not phases:
        return None
    out = {}
    for k in ("namespaces_at", "namespaces_ns", "cgroup_join_ns", "cgroup_join_max_ns",
              "cgroup_other_ns", "container_exec_at", "total_ns"):
        vals = [p[k] for p in phases if p.get(k) is not None]
        out[k] = statistics.median(vals) if vals else None
    # the slowest events of the sample whose total is the median one
    mid = sorted(phases, key=lambda p: p["total_ns"])[len(phases) // 2]
    out["slowest"] = mid["slowest"]
    out["samples"] = len(phases)
    return out


def load_syscalls(raw):
    rts = sorted({os.path.basename(p).split("-")[2] for p in glob.glob(f"{raw}/strace-sys-*-*.txt")},
                 key=sort_key)
    out = {}
    for rt in rts:
        entry = {}
        sysp = [parse_strace(p) for p in sorted(glob.glob(f"{raw}/strace-sys-{rt}-*.txt"))]
        wallp = [parse_strace(p) for p in sorted(glob.glob(f"{raw}/strace-wall-{rt}-*.txt"))]
        entry["strace_sys"] = median_profile([p for p in sysp if p])
        entry["strace_wall"] = median_profile([p for p in wallp if p])
        traces, phases = [], []
        for p in sorted(glob.glob(f"{raw}/trace-{rt}-*.json")):
            try:
                doc = json.load(open(p))
                phases.append(trace_phases(doc))
                t = None
                if isinstance(doc, dict) and isinstance(doc.get("syscalls"), list):
                    t = {x["name"]: (int(x["count"]), int(x.get("total_ns", 0)) * 1e-9)
                         for x in doc["syscalls"] if "name" in x and "count" in x}
                t = t or find_syscall_table(doc)
            except (ValueError, OSError, KeyError, TypeError):
                t = None
            if t:
                traces.append(t)
        entry["husk_trace"] = median_profile(traces)
        entry["timeline"] = median_phases(phases)
        out[rt] = entry
    return out


def load_rss(raw):
    out = {}
    for p in glob.glob(f"{raw}/rss-*.txt"):
        rt = os.path.basename(p)[4:-4]
        vals = []
        for line in open(p):
            line = line.strip()
            if line.isdigit():
                vals.append(int(line))
        if vals:
            out[rt] = {"samples": len(vals), "median_kb": statistics.median(vals),
                       "max_kb": max(vals), "min_kb": min(vals)}
    return dict(sorted(out.items(), key=lambda kv: sort_key(kv[0])))


def load_tsv(raw, name, ncols):
    path = os.path.join(raw, name)
    rows = []
    if os.path.exists(path):
        for line in open(path):
            parts = line.rstrip("\n").split("\t", ncols - 1)
            if len(parts) == ncols:
                rows.append(parts)
    return rows


def read_text(raw, name):
    path = os.path.join(raw, name)
    return open(path).read().strip() if os.path.exists(path) else None


def by_name(rows, name):
    for r in rows or []:
        if r["command"] == name:
            return r
    return None


def targets(data):
    """The issue's targets, computed from this run only."""
    out = []
    run, ex = data["bench"].get("run"), data["bench"].get("exec")
    h, c, u = by_name(run, "husk"), by_name(run, "crun"), by_name(run, "unshare")
    if h and c:
        out.append(("run median ≤ 0.5 × crun", h["median"] / c["median"], 0.5))
    if h and u:
        out.append(("run median ≤ 1.5 × unshare floor", h["median"] / u["median"], 1.5))
    he, ce = by_name(ex, "husk"), by_name(ex, "crun")
    if he and ce:
        out.append(("exec median ≤ 0.5 × crun", he["median"] / ce["median"], 0.5))
    sc = data["syscalls"]

    def calls(rt):
        e = sc.get(rt) or {}
        p = e.get("husk_trace") or e.get("strace_sys")
        return p["calls"] if p else None

    if calls("husk") is not None and calls("crun"):
        out.append(("syscalls per start < crun", calls("husk") / calls("crun"), 1.0))
    rss = data["rss"]
    if "husk" in rss and "crun" in rss:
        out.append(("peak RSS ≤ crun", rss["husk"]["median_kb"] / rss["crun"]["median_kb"], 1.0))
    res = []
    for what, ratio, limit in out:
        ok = ratio < limit if what.startswith("syscalls") else ratio <= limit
        res.append({"target": what, "ratio": ratio, "limit": limit, "met": ok})
    return res


def time_table(rows, floor=None, ref="crun", per=None):
    f = by_name(rows, floor) if floor else None
    c = by_name(rows, ref)
    head = "| runtime | mean ± σ (ms) | median | q1 … q3 | min … max | user | sys | runs |"
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|"
    if per:
        head += f" per container (median / {per}) |"
        sep += "---:|"
    if f:
        head += f" × {floor} |"
        sep += "---:|"
    if c:
        head += f" × {ref} |"
        sep += "---:|"
    rounds = max(len(r["round_medians"]) for r in rows) > 1
    if rounds and c:
        head += f" × {ref} per round |"
        sep += "---|"
    lines = [head, sep]
    for r in rows:
        line = (f"| {r['command']} | {ms(r['mean'])} ± {ms(r['stddev'])} | {ms(r['median'])} | "
                f"{ms(r['q1'])} … {ms(r['q3'])} | {ms(r['min'])} … {ms(r['max'])} | "
                f"{ms(r['user'])} | {ms(r['system'])} | {r['runs']} |")
        if per:
            line += f" {ms(r['median'] / per)} |"
        if f:
            line += f" {r['median'] / f['median']:.2f} |"
        if c:
            line += f" {r['median'] / c['median']:.2f} |"
        if rounds and c:
            per_round = [a / b for a, b in zip(r["round_medians"], c["round_medians"])]
            line += " " + ", ".join(f"{x:.2f}" for x in per_round) + " |"
        lines.append(line)
    return lines


def busy(meta):
    try:
        return float(meta.get("load_start", "0").split()[0]) > 0.5 * int(meta.get("ncpu", 1))
    except ValueError:
        return False


def markdown(data):
    m = data["meta"]
    L = [f"# Start-latency benchmark {m.get('tag', '')}", ""]
    L += [f"- host `{m.get('host')}`, {m.get('ncpu')} CPUs ({m.get('cpu')}), kernel {m.get('kernel')}",
          f"- cgroups: {m.get('cgroups')}. **Every runtime ran under the same wrapper**: one "
          "`unshare -m --propagation private` mount namespace (crun 1.8 refuses the hybrid layout).",
          "- bundle: busybox-static rootfs, `/bin/true`, runc's default spec (readonly root, /proc, "
          "/dev tmpfs, devpts, shm, mqueue, sysfs, cgroup mounts, masked and readonly paths, 3 "
          "capabilities, no seccomp), `ociVersion` 1.0.2, pid+ipc+uts+mount+net namespaces, "
          "memory limit 64 MiB, pids limit 64; state dirs (`--root`) under /tmp",
          f"- {m.get('crun')}; {m.get('runc')}; husk: {m.get('husk_version') or m.get('husk_oci')}"
          + (f" ({m.get('husk_binary')})" if m.get("husk_binary") else ""),
          f"- {m.get('hyperfine')} `-N`, warmup {m.get('warmup')}, min runs {m.get('min_runs')}"
          + (" — **QUICK MODE: too few runs, do not quote**" if m.get("quick") else ""),
          f"- rounds per benchmark: {m.get('rounds', 1)} (command order rotated "
          "each round, pooled; *× crun per round* shows how stable the ratio was)",
          f"- git {m.get('git')}; whole benchmark took {m.get('elapsed_s')} s; load average "
          f"(1/5/15 min) at start {m.get('load_start')}, at end {m.get('load_end')}"
          + (" — **the machine was busy: absolute times are inflated, compare ratios**"
             if busy(m) else ""), ""]
    t = data["targets"]
    if t:
        L += ["## Targets (issue 5)", "", "| target | measured ratio | met |", "|---|---:|---|"]
        for x in t:
            L.append(f"| {x['target']} | {x['ratio']:.2f} | {'yes' if x['met'] else '**no**'} |")
        L.append("")
    elif "husk" not in [c[0] for c in data["checks"]]:
        L += ["## Targets (issue 5)", "", "Not evaluated: no husk-oci binary in this run.", ""]
    for key, title, how in BENCHES:
        rows = data["bench"].get(key)
        L += [f"## {title}", ""]
        if key == "porcelain" and data.get("porcelain_skipped"):
            L += [f"Note: {data['porcelain_skipped']}", ""]
        if not rows:
            if key != "porcelain" or not data.get("porcelain_skipped"):
                L += ["Not measured (see failures below).", ""]
            continue
        L += [how, ""]
        if key == "run":
            L += time_table(rows, floor="unshare")
        elif key == "sequence":
            L += time_table(rows, floor="unshare", per=int(m.get("seq", 100)))
        elif key == "porcelain":
            L += time_table(rows, ref="podman run --network none")
        else:
            L += time_table(rows)
        L.append("")
    L += ["## 6. Syscalls per start", ""]
    sc = data["syscalls"]
    if sc:
        L += ["Medians over samples of one `run` each (the floor: one `unshare`), all processes "
              "of the start followed (`-f`), the container's `/bin/true` included. *sys*: strace's "
              "default summary (kernel CPU time; coarse). *wall*: `strace -c -w`, time from entry to "
              "exit, inflated by ptrace; *wall w/o waits* drops wait4/futex/epoll/poll-style "
              "waiting (reads on sync pipes remain). "
              + ("husk-trace (eBPF) columns come from `husk-trace --json` (eBPF, syscall entry to exit)."
                 if any(e.get("husk_trace") for e in sc.values())
                 else f"husk-trace: {data.get('trace_skipped') or 'its JSON had no per-syscall table; strace only'}."),
              "",
              "| runtime | calls (strace) | calls (husk-trace) | sys ms (strace) | wall ms (strace) "
              "| w/o waits | wall ms (husk-trace) | w/o waits | most frequent |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]

        def f(p, key, scale=1.0, fmt="{:.2f}"):
            return fmt.format(p[key] * scale) if p else "–"

        for rt, e in sc.items():
            s, w, h = e.get("strace_sys"), e.get("strace_wall"), e.get("husk_trace")
            top = ", ".join(f"{n} {c:g}" for n, c in (h or s or w or {"top_by_count": []})["top_by_count"][:6])
            L.append(f"| {rt} | {f(s, 'calls', fmt='{:g}')} | {f(h, 'calls', fmt='{:g}')} | "
                     f"{f(s, 'seconds', 1e3)} | {f(w, 'seconds', 1e3)} | "
                     f"{f(w, 'seconds_no_waits', 1e3)} | {f(h, 'seconds', 1e3)} | "
                     f"{f(h, 'seconds_no_waits', 1e3)} | {top} |")
        src = "husk-trace" if any(e.get("husk_trace") for e in sc.values()) else "strace -c -w"
        L += ["", f"Where the wall time goes ({src}, top syscalls by total time, ms per start):", ""]
        for rt, e in sc.items():
            w = e.get("husk_trace") or e.get("strace_wall")
            if w:
                L.append(f"- {rt}: " + ", ".join(f"{n} {t * 1e3:.2f}" for n, t in w["top_by_time"][:8]))
        L.append("")
        tl = {rt: e["timeline"] for rt, e in sc.items() if e.get("timeline")}
        if tl:
            def t(x):
                return "–" if x is None else f"{x / 1e6:.2f}"
            L += ["### Where a start's time goes (husk-trace timeline)", "",
                  "Median milestones of the traced starts, ms from the runtime's `execve` (tracing "
                  "adds overhead, and the traced starts are isolated: the cgroup attach is cold). "
                  "*cgroup join*: total and slowest write to `cgroup.procs`/`tasks`; *other cgroup "
                  "writes*: limits, freezer.", "",
                  "| runtime | namespaces created at | clone/unshare | cgroup join (slowest) "
                  "| other cgroup writes | container execve at | last syscall ends at |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
            for rt, p in tl.items():
                L.append(f"| {rt} | {t(p['namespaces_at'])} | {t(p['namespaces_ns'])} | "
                         f"{t(p['cgroup_join_ns'])} ({t(p['cgroup_join_max_ns'])}) | "
                         f"{t(p['cgroup_other_ns'])} | {t(p['container_exec_at'])} | {t(p['total_ns'])} |")
            L += ["", "Slowest syscalls of the median traced start:", ""]
            for rt, p in tl.items():
                L.append(f"- {rt}: " + "; ".join(
                    f"{x['event']} {x['args']} ({x['comm']}) {x['ms']:.2f}" for x in p["slowest"][:4]))
            L.append("")
    else:
        L += ["Not measured.", ""]
    L += ["## Peak RSS during one start", "",
          "`/usr/bin/time -f %M`: the largest maximum RSS among the processes of the start that "
          "the runtime waited for (not their sum).", "",
          "| runtime | median kB | min … max kB | samples |", "|---|---:|---:|---:|"]
    for rt, r in data["rss"].items():
        L.append(f"| {rt} | {r['median_kb']:g} | {r['min_kb']} … {r['max_kb']} | {r['samples']} |")
    L += ["", "## Sanity check of each runtime", "",
          "Each runtime ran the bundle once with a shell that printed what it saw (expected "
          "`pid=1 hostname=bench memory=67108864 pids=64 netdevs=lo`).", "",
          "| runtime | result | container saw |", "|---|---|---|"]
    for rt, res, saw in data["checks"]:
        L.append(f"| {rt} | {res} | `{saw.strip()}` |")
    L += ["", "## Failures", ""]
    if data["failures"]:
        for rt, bench, msg in data["failures"]:
            L.append(f"- **{rt}** {bench}: `{msg.strip()}`")
    else:
        L.append("None.")
    L.append("")
    return "\n".join(L)


def chart(data, path):
    panels = [(k, t) for k, t, _ in BENCHES if data["bench"].get(k)]
    traced = any(e.get("husk_trace") for e in data["syscalls"].values())
    extra = [("syscalls", f"syscalls per start ({'husk-trace' if traced else 'strace -f'})"),
             ("rss", "peak RSS of a start (MB)")]
    n = len(panels) + len(extra)
    cols = 3
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    axes = [a for row in axes for a in row]
    seq = int(data["meta"].get("seq", 100))

    def bars(ax, names, vals, lohi, title, unit):
        colors = [COLORS.get(x.split()[0], "#999999") for x in names]
        yerr = None
        if lohi:
            yerr = [[v - lo for v, (lo, _) in zip(vals, lohi)],
                    [hi - v for v, (_, hi) in zip(vals, lohi)]]
        ax.bar(names, vals, yerr=yerr, color=colors, capsize=3)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit)
        top = [hi for _, hi in lohi] if lohi else vals
        for i, (v, t) in enumerate(zip(vals, top)):
            ax.annotate(f"{v:.3g}" if v < 100 else f"{v:,.0f}", (i, t), ha="center",
                        va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
        ax.set_ylim(0, max(top) * 1.15)
        ax.tick_params(axis="x", labelsize=8, rotation=15)

    i = 0
    for key, title in panels:
        rows_ = data["bench"][key]
        div = seq if key == "sequence" else 1
        title = re.sub(r"`", "", title.split(". ", 1)[1])
        if key == "sequence":
            title = f"run, per container in a sequence of {seq}"
        if key == "porcelain":
            title = "husk run vs podman run (--rm busybox true)"
        bars(axes[i], [r["command"] for r in rows_], [r["median"] * 1e3 / div for r in rows_],
             [(r["q1"] * 1e3 / div, r["q3"] * 1e3 / div) for r in rows_],
             title + " — median, q1…q3", "ms")
        i += 1
    sc = {rt: e.get("husk_trace") or e.get("strace_sys") for rt, e in data["syscalls"].items()}
    sc = {k: v for k, v in sc.items() if v}
    if sc:
        bars(axes[i], list(sc), [v["calls"] for v in sc.values()], None, extra[0][1], "calls")
    i += 1
    if data["rss"]:
        bars(axes[i], list(data["rss"]), [v["median_kb"] / 1024 for v in data["rss"].values()],
             None, extra[1][1], "MB")
    i += 1
    for ax in axes[i:]:
        ax.axis("off")
    fig.suptitle(f"container start on {data['meta'].get('host')} "
                 f"({data['meta'].get('tag')}; same private mount namespace for all)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py RAW_DIR OUT_PREFIX")
    raw, prefix = sys.argv[1], sys.argv[2]
    data = {"meta": load_meta(raw),
            "bench": {k: load_hf(raw, k) for k, _, _ in BENCHES},
            "syscalls": load_syscalls(raw),
            "rss": load_rss(raw),
            "checks": load_tsv(raw, "checks.tsv", 3),
            "failures": load_tsv(raw, "failures.tsv", 3),
            "porcelain_skipped": read_text(raw, "porcelain-skipped"),
            "trace_skipped": read_text(raw, "trace-skipped")}
    data["bench"] = {k: v for k, v in data["bench"].items() if v}
    data["targets"] = targets(data)
    md = markdown(data)
    with open(prefix + ".md", "w") as f:
        f.write(md)
    with open(prefix + ".json", "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    chart(data, prefix + ".png")
    print(md)


if __name__ == "__main__":
    main()
