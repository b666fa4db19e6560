#!/usr/bin/python3
"""The benchmark's analysis: from what bench.sh left in a results directory
(windows.jsonl, meta.json, arms.jsonl, host.json, and the extras' mem.jsonl,
scale.jsonl and sync.jsonl when they ran; sync.json: syncanalyze.py) it writes

  results.json  every window and every derived figure, machine-readable
  results.md    the tables, each figure with its goal and verdict
  *.png         the plots (every arm)

and prints the ratio table.

  analyze.py DIR [--previous DIR]

Cost per packet is the guest's elapsed time for a window (pktgen's own
clock; under -icount shift=0 one nanosecond is one instruction executed on
either vCPU) over the packets sent. An arm's cost above the floor is its cost
minus the floor's in the same block; the drlb/IPVS and drlb/ideal ratios are
taken per block, then summarized as median and spread (min-max). A window
that lost packets stays in every figure and is flagged, never dropped.
"""
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import syncanalyze  # noqa: E402

ARMS = ["floor", "b0", "ideal", "ipvs", "drlb"]
ARM_NAMES = {
    "floor": "floor (drop at PRE_ROUTING)",
    "b0": "B0 plain IP forwarding",
    "ideal": "ideal forwarder",
    "ipvs": "IPVS-DR (rr)",
    "drlb": "drlb (rr)",
}
TRAFFIC_NAMES = {"est": "established (1024 flows)", "new": "all-new flows", "seq": "established (every live flow in turn)"}
SCALE_NAMES = {"conns": "live connections", "reals": "real servers", "services": "services"}
COLORS = {"floor": "#888888", "b0": "#9467bd", "ideal": "#2ca02c", "ipvs": "#d62728", "drlb": "#1f77b4"}
IDLE_SYMBOLS = {"pv_native_safe_halt", "native_safe_halt", "default_idle", "acpi_safe_halt", "acpi_idle_do_entry",
                "cpuidle_idle_call", "do_idle", "default_idle_call", "poll_idle", "mwait_idle"}
# the goals (issue 13)
GOAL_EST_VS_IDEAL = 1.25
GOAL_NEW_VS_IPVS = 0.6
GOAL_GROWTH = 1.3
GOAL_BYTES_PER_ENTRY = 64


def load_jsonl(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError as e:
                # (said, not hidden: the run's own output is at fault)
                print(f"analyze: {path}:{n}: not JSON ({e}): {line.strip()[:200]}", file=sys.stderr)
    return out


def load_json(path):
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def spread(values):
    """median, min, max, n of a list (None when empty)"""
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "values": values,
    }


def fmt_spread(s, digits=3, unit=""):
    if not s:
        return "n/a"
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}-{s['max']:.{digits}f}, n={s['n']})"


def analyze(d, previous=None):
    meta = load_json(os.path.join(d, "meta.json"))
    host = load_json(os.path.join(d, "host.json"))
    arms_info = {a["arm"]: a["info"] for a in load_jsonl(os.path.join(d, "arms.jsonl"))}
    windows = load_jsonl(os.path.join(d, "windows.jsonl"))
    for w in windows:
        if "usec" in w and w.get("sent"):
            w["ns_per_pkt"] = w["usec"] * 1000.0 / w["sent"]
            w["lost"] = w["sent"] - w["delivered"]
    traffics = [t for t in ["est", "new"] if any(w.get("traffic") == t for w in windows)]
    arms = [a for a in ARMS if any(w.get("arm") == a for w in windows)]
    blocks = sorted({w["block"] for w in windows if "block" in w})

    # cost[traffic][arm][block] = ns per packet
    cost = {t: {a: {} for a in arms} for t in traffics}
    lossy = []
    failed = [w for w in windows if "error" in w]
    for w in windows:
        if "ns_per_pkt" not in w:
            continue
        cost[w["traffic"]][w["arm"]][w["block"]] = w["ns_per_pkt"]
        if w["lost"] != 0:
            lossy.append(w)

    summary = {}
    ratios = {}
    for t in traffics:
        summary[t] = {}
        for a in arms:
            vals = [cost[t][a][b] for b in blocks if b in cost[t][a]]
            above = [cost[t][a][b] - cost[t]["floor"][b] for b in blocks
                     if b in cost[t][a] and "floor" in cost[t] and b in cost[t]["floor"]]
            lost = sum(w["lost"] for w in windows if w.get("arm") == a and w.get("traffic") == t and "lost" in w)
            summary[t][a] = {"ns_per_pkt": spread(vals), "above_floor": spread(above), "lost": lost}
        ratios[t] = {}
        for num, den in [("drlb", "ipvs"), ("drlb", "ideal"), ("ipvs", "ideal"), ("drlb", "b0")]:
            per_block = []
            for b in blocks:
                try:
                    f = cost[t]["floor"][b]
                    x, y = cost[t][num][b] - f, cost[t][den][b] - f
                except KeyError:
                    continue
                if y > 0:
                    per_block.append(x / y)
            ratios[t][f"{num}/{den}"] = spread(per_block)

    extras = {"mem": load_jsonl(os.path.join(d, "mem.jsonl")), "scale": load_jsonl(os.path.join(d, "scale.jsonl")),
              "crr": load_jsonl(os.path.join(d, "crr.jsonl")),
              "profile": load_jsonl(os.path.join(d, "profile.jsonl"))}
    crr = crr_summary(extras["crr"])
    for p in extras["profile"]:
        r = resolve_profile(d, host, p)
        if r:
            p["resolved"] = r
    verdicts = []

    def verdict(name, value, goal, better="le", detail=""):
        ok = None if value is None else (value <= goal if better == "le" else value >= goal)
        verdicts.append({"goal": name, "value": value, "target": goal, "meets": ok, "detail": detail})

    r = ratios.get("est", {}).get("drlb/ideal")
    verdict(f"established flows: drlb above the floor <= {GOAL_EST_VS_IDEAL}x the ideal forwarder's",
            r and r["median"], GOAL_EST_VS_IDEAL, detail=fmt_spread(r))
    r = ratios.get("new", {}).get("drlb/ipvs")
    verdict(f"all-new flows: drlb above the floor <= {GOAL_NEW_VS_IPVS}x IPVS-DR's",
            r and r["median"], GOAL_NEW_VS_IPVS, detail=fmt_spread(r))
    mem = [m for m in extras["mem"] if m.get("kind") == "drlb" and "bytes_per_entry" in m]
    if mem:
        m = mem[-1]
        verdict(f"memory per connection entry <= {GOAL_BYTES_PER_ENTRY} B (measured at {m['entries']} entries)",
                m["bytes_per_entry"], GOAL_BYTES_PER_ENTRY, detail=m.get("how", ""))
    growth = scale_growth(extras["scale"])
    for g in growth:
        if g["impl"].startswith("drlb"):
            verdict(f"growth of {g['impl']}'s cost above the floor, {SCALE_NAMES.get(g['curve'], g['curve'])} "
                    f"{g['from']} to {g['to']}, {TRAFFIC_NAMES.get(g['traffic'], g['traffic'])} <= {GOAL_GROWTH}x",
                    g["growth"], GOAL_GROWTH, detail=f"{g['first']:.0f} -> {g['last']:.0f} ns")

    result = {
        "dir": os.path.realpath(d),
        "host": host,
        "meta": meta,
        "arms": arms_info,
        "windows": windows,
        "summary": summary,
        "ratios": ratios,
        "verdicts": verdicts,
        "lossy_windows": lossy,
        "failed_windows": failed,
        "extras": extras,
        "scale_growth": growth,
        "crr": crr,
        "sync": syncanalyze.summarize(d),
    }
    if previous:
        prev = load_json(os.path.join(previous, "results.json"))
        if prev:
            result["previous"] = {"dir": prev.get("dir"), "commit": prev.get("host", {}).get("commit"),
                                  "ratios": prev.get("ratios"), "summary": prev.get("summary")}
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    if traffics:
        plots(d, result, traffics, arms, blocks, cost)
    md = markdown(result, traffics, arms, blocks)
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write(md)
    return result, md


def module_symbols(path):
    """(offsets, names) of the functions in a module's .text, demangled"""
    import bisect  # noqa: F401  (used by the caller)
    import subprocess
    try:
        secs = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True, check=True).stdout
        syms = subprocess.run(["readelf", "-sW", path], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    text = None
    for line in secs.splitlines():
        f = line.replace("[ ", "[").split()
        if len(f) > 2 and f[1] == ".text":
            text = f[0].strip("[]")
    out = []
    for line in syms.splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] == "FUNC" and f[6] == text:
            out.append((int(f[1], 16), f[7]))
    out.sort()
    names = [n for _, n in out]
    try:
        dem = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
        if len(dem) == len(names):
            names = dem
    except OSError:
        pass
    return [o for o, _ in out], names


def resolve_profile(d, host, p):
    """perf report of the run's perf data on the host, by (module, symbol),
    module addresses resolved from the modules' own symbol tables (perf in
    the guest leaves them as offsets): [(pct, dso, symbol)]"""
    import bisect
    import subprocess
    data = os.path.join(d, f"perf-{p['arm']}-{p['traffic']}.data")
    kdir = host.get("kdir")
    if not os.path.exists(data) or not kdir:
        return None
    try:
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", "dso,sym", "--percent-limit", "0",
                              "--vmlinux", os.path.join(kdir, "vmlinux")],
                             capture_output=True, text=True).stdout
    except OSError:
        return None
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    mods = {"drlb": os.path.join(top, "target/bench-bench/drlb/drlb.ko"),
            "ideal": os.path.join(top, "target/bench-bench/ideal/ideal.ko")}
    tables = {}
    agg = {}
    for line in rep.splitlines():
        f = line.split()
        if len(f) < 4 or not f[0].endswith("%") or f[2] != "[k]" and f[2] != "[.]":
            continue
        pct, dso, sym = float(f[0][:-1]), f[1].strip("[]"), " ".join(f[3:])
        if sym.startswith("0x") and dso not in ("kernel.vmlinux",):
            if dso not in tables:
                path = mods.get(dso)
                if not path:
                    found = subprocess.run(["find", os.path.join(kdir, "net"), os.path.join(kdir, "drivers"),
                                            "-name", dso + ".ko"], capture_output=True, text=True).stdout.split()
                    path = found[0] if found else None
                tables[dso] = module_symbols(path) if path else None
            t = tables[dso]
            if t and t[0]:
                i = bisect.bisect_right(t[0], int(sym, 16)) - 1
                if i >= 0:
                    sym = t[1][i]
        # (Rust's crate disambiguators say nothing here)
        sym = re.sub(r"\[[0-9a-f]{16}\]", "", sym)
        agg[(dso, sym)] = agg.get((dso, sym), 0.0) + pct
    return sorted(((v, k[0], k[1]) for k, v in agg.items()), reverse=True)


def crr_summary(runs):
    """TCP connection rate per arm (median over blocks) and drlb/IPVS per block"""
    if not runs:
        return None
    arms = [a for a in ["b0", "ideal", "ipvs", "drlb"] if any(r["arm"] == a for r in runs)]
    out = {"arms": {}, "ratios": {}}
    for a in arms:
        rs = [r for r in runs if r["arm"] == a]
        out["arms"][a] = {"rps": spread([r["rps"] for r in rs if r["rps"]]),
                          "us_per_conn": spread([1e6 / r["rps"] for r in rs if r["rps"]]),
                          "failed": sum(r["failed"] + (r["requests"] - r["complete"]) for r in rs)}
    blocks = sorted({r["block"] for r in runs})

    def rate(b, a):
        x = [r["rps"] for r in runs if r["block"] == b and r["arm"] == a and r["rps"]]
        return x[0] if x else None
    for num, den in [("drlb", "ipvs"), ("drlb", "ideal")]:
        per = [rate(b, num) / rate(b, den) for b in blocks if rate(b, num) and rate(b, den)]
        out["ratios"][f"{num}/{den}"] = spread(per)
    # the director's own share: guest time per connection above the ideal
    # forwarder's, drlb's over IPVS's
    per = []
    for b in blocks:
        i, x, y = rate(b, "ideal"), rate(b, "drlb"), rate(b, "ipvs")
        if i and x and y and (1 / y - 1 / i) > 0:
            per.append((1 / x - 1 / i) / (1 / y - 1 / i))
    out["ratios"]["drlb/ipvs above ideal"] = spread(per)
    return out


def scale_growth(scale):
    """first-to-last growth of each scale curve's cost above its floor"""
    curves = {}
    for s in scale:
        if "ns_per_pkt" not in s and "usec" in s:
            s["ns_per_pkt"] = s["usec"] * 1000.0 / s["sent"]
        if s["curve"] == "nonservice":
            continue
        curves.setdefault((s["curve"], s.get("traffic", ""), s["impl"]), []).append(s)
    out = []
    for (curve, traffic, impl), pts in curves.items():
        pts = [p for p in pts if "ns_per_pkt" in p and p.get("floor_ns") is not None]
        if len(pts) < 2:
            continue
        by_x = {}
        for p in pts:
            by_x.setdefault(p["x"], []).append(p["ns_per_pkt"] - p["floor_ns"])
        xs = sorted(by_x)
        first, last = statistics.median(by_x[xs[0]]), statistics.median(by_x[xs[-1]])
        out.append({"curve": curve, "traffic": traffic, "impl": impl, "from": xs[0], "to": xs[-1],
                    "first": first, "last": last,
                    "growth": last / first if first > 0 else None})
    return out


def markdown(res, traffics, arms, blocks):
    h, m = res["host"], res["meta"]
    L = []
    L.append(f"# drlb benchmark: {os.path.basename(res['dir'])}\n")
    L.append(f"- commit `{h.get('commit', '?')}`{' (with uncommitted changes)' if h.get('dirty') else ''}, "
             f"branch {h.get('branch', '?')}, {h.get('date', '?')}")
    L.append(f"- guest: kernel {m.get('kernel', '?')} (the bench kernel: no lockdep, KFENCE, kmemleak...), "
             f"{m.get('cpus', '?')} vCPUs, QEMU TCG with `-icount shift=0,sleep=off`: "
             "1 ns of guest time = 1 instruction, idle time skipped")
    L.append(f"- host: {h.get('host_cpus', '?')} CPUs, load average {h.get('host_load', '?')} at the start"
             + (f", {h['host_load_end']} at the end; the guest ran {h['guest_host_seconds']} s of host time"
                if "host_load_end" in h else "")
             + " (none of which enters the figures: they count guest instructions)")
    L.append(f"- {len(blocks)} blocks (ABBA order), {m.get('pkts', '?')} packets of 60 B UDP a window after "
             f"{m.get('warmup', '?')} of warm-up; established = 1024 flows, all-new = a new 5-tuple every packet")
    ipvs = res["arms"].get("ipvs", {})
    if ipvs:
        L.append(f"- IPVS: `{ipvs.get('version_line', '')}`, conn_tab_bits {ipvs.get('conn_tab_bits')}, "
                 f"conntrack {ipvs.get('conntrack')}, conn_reuse_mode {ipvs.get('conn_reuse_mode')}")
    L.append("- drlb: scheduler rr, flood mode off (`limits --flood-rate 0`: every new flow gets an entry, as in IPVS)")
    L.append("")
    L.append("## Verdicts\n")
    L.append("| goal | measured | verdict |")
    L.append("|---|---|---|")
    for v in res["verdicts"]:
        val = "n/a" if v["value"] is None else f"{v['value']:.3f}"
        ver = "not measured" if v["meets"] is None else ("**meets**" if v["meets"] else "**misses**")
        L.append(f"| {v['goal']} | {val} {('[' + v['detail'] + ']') if v['detail'] else ''} | {ver} |")
    L.append("")
    L.append("## Ratios of cost above the floor, per block\n")
    L.append("median (min-max, n blocks)\n")
    L.append("| traffic | drlb/IPVS | drlb/ideal | IPVS/ideal | drlb/B0 |")
    L.append("|---|---|---|---|---|")
    for t in traffics:
        r = res["ratios"][t]
        L.append(f"| {TRAFFIC_NAMES[t]} | {fmt_spread(r.get('drlb/ipvs'))} | {fmt_spread(r.get('drlb/ideal'))} | "
                 f"{fmt_spread(r.get('ipvs/ideal'))} | {fmt_spread(r.get('drlb/b0'))} |")
    prev = res.get("previous")
    if prev and prev.get("ratios"):
        L.append("")
        L.append(f"Previous run ({os.path.basename(prev['dir'] or '?')}, commit `{(prev.get('commit') or '?')[:12]}`), "
                 "for comparison:\n")
        L.append("| traffic | drlb/IPVS | drlb/ideal | IPVS/ideal |")
        L.append("|---|---|---|---|")
        for t in traffics:
            r = prev["ratios"].get(t, {})
            L.append(f"| {TRAFFIC_NAMES[t]} | {fmt_spread(r.get('drlb/ipvs'))} | {fmt_spread(r.get('drlb/ideal'))} | "
                     f"{fmt_spread(r.get('ipvs/ideal'))} |")
    L.append("")
    L.append("## Cost per packet (ns of guest time = instructions)\n")
    L.append("median (min-max) over blocks; above the floor: minus the same block's floor\n")
    L.append("| traffic | arm | ns/packet | above the floor | packets lost |")
    L.append("|---|---|---|---|---|")
    for t in traffics:
        for a in arms:
            s = res["summary"][t][a]
            lost = s["lost"]
            L.append(f"| {TRAFFIC_NAMES[t]} | {ARM_NAMES[a]} | {fmt_spread(s['ns_per_pkt'], 0)} | "
                     f"{'-' if a == 'floor' else fmt_spread(s['above_floor'], 0)} | "
                     f"{lost if lost == 0 else '**' + str(lost) + '**'} |")
    L.append("")
    if res["lossy_windows"] or res["failed_windows"]:
        L.append("## Windows that lost packets or failed (kept in every figure above)\n")
        for w in res["lossy_windows"]:
            L.append(f"- block {w['block']} {w['arm']} {w['traffic']}: {w['lost']} of {w['sent']} lost")
        for w in res["failed_windows"]:
            L.append(f"- block {w.get('block')} {w.get('arm')} {w.get('traffic', '')}: {w['error']}")
        L.append("")
    L.append("## Every window\n")
    L.append("| block | " + " | ".join(f"{a} {t}" for t in traffics for a in arms) + " |")
    L.append("|---" * (1 + len(traffics) * len(arms)) + "|")
    for b in blocks:
        row = []
        for t in traffics:
            for a in arms:
                w = [x for x in res["windows"] if x.get("block") == b and x.get("arm") == a and x.get("traffic") == t]
                row.append(f"{w[0]['ns_per_pkt']:.0f}" if w and "ns_per_pkt" in w[0] else "-")
        L.append(f"| {b} | " + " | ".join(row) + " |")
    L.append("")
    mem = res["extras"]["mem"]
    if mem:
        L.append("## Memory per connection entry\n")
        L.append("| implementation | entries | bytes per entry (slab) | caches that grew | module, table and configuration | how |")
        L.append("|---|---|---|---|---|---|")
        for x in mem:
            bpe = x.get("bytes_per_entry")
            caches = "; ".join(f"{c['cache']}{' (= ' + c['aliases'] + ')' if c.get('aliases') else ''} "
                               f"({c['object_size']} B objects): {c['bytes_per_entry']:.1f} B/entry"
                               for c in x.get("caches", []))
            L.append(f"| {x.get('kind')} | {x.get('entries')} | {'n/a' if bpe is None else f'{bpe:.1f}'} | {caches} | "
                     f"{x.get('table_bytes', 0) / 1048576:.1f} MiB | {x.get('how', '')} |")
        L.append("")
    if res["scale_growth"]:
        L.append("## Scale curves: growth of the cost above the floor\n")
        L.append("| curve | traffic | implementation | from | to | first (ns) | last (ns) | growth |")
        L.append("|---|---|---|---|---|---|---|---|")
        for g in res["scale_growth"]:
            gr = "n/a" if g["growth"] is None else f"{g['growth']:.2f}x"
            L.append(f"| {SCALE_NAMES.get(g['curve'], g['curve'])} | {TRAFFIC_NAMES.get(g['traffic'], g['traffic'])} | "
                     f"{g['impl']} | {g['from']} | {g['to']} | {g['first']:.0f} | {g['last']:.0f} | {gr} |")
        L.append("")
        L.append("Every point:\n")
        L.append("| curve | traffic | implementation | x | ns/packet | floor | above the floor | lost |")
        L.append("|---|---|---|---|---|---|---|---|")
        for s in res["extras"]["scale"]:
            if "ns_per_pkt" in s and s["curve"] != "nonservice":
                fl = s.get("floor_ns")
                floor = "-" if fl is None else f"{fl:.0f}"
                above = "-" if fl is None else f"{s['ns_per_pkt'] - fl:.0f}"
                L.append(f"| {s['curve']} | {s.get('traffic', '')} | {s['impl']} | {s['x']} | {s['ns_per_pkt']:.0f} | {floor} | {above} | "
                         f"{s.get('sent', 0) - s.get('delivered', 0)} |")
        L.append("")
    if res.get("sync"):
        L.append("## Connection sync throughput (sync.sh, sync.json)\n")
        L.append("new UDP flows through the master at each rate, its vrrpd relaying the records (HMAC) to the "
                 "standby's; lag = how long after the master's table held N entries the standby's did (largest "
                 "over the step, sampled every 50 ms); CPU = each vrrpd's utime+stime; guest time throughout\n")
        L.append(syncanalyze.table(res["sync"]))
        L.append("")
    crr = res.get("crr")
    if crr:
        L.append("## TCP connection rate against nginx (a new connection per request)\n")
        L.append("connections per second of guest time, median (min-max) over blocks; the client's and nginx's "
                 "instructions count in every arm alike\n")
        L.append("| director | connections/s | guest µs per connection | failed |")
        L.append("|---|---|---|---|")
        for a, x in crr["arms"].items():
            L.append(f"| {ARM_NAMES[a]} | {fmt_spread(x['rps'], 0)} | {fmt_spread(x['us_per_conn'], 1)} | {x['failed']} |")
        L.append("")
        L.append("| ratio, per block | median (min-max) |")
        L.append("|---|---|")
        names = {"drlb/ipvs": "connection rate, drlb / IPVS", "drlb/ideal": "connection rate, drlb / ideal",
                 "drlb/ipvs above ideal": "guest time per connection above the ideal forwarder's, drlb / IPVS"}
        for k, v in crr["ratios"].items():
            L.append(f"| {names.get(k, k)} | {fmt_spread(v)} |")
        L.append("")
    setups = {}
    for s in res["extras"]["scale"]:
        if s.get("setup_usec") is not None and s["curve"] in ("reals", "services"):
            setups[(s["curve"], s["impl"], s["x"])] = s["setup_usec"]
    if setups:
        L.append("## Configuration time\n")
        L.append("Guest time (instructions) to configure the service(s) and real servers of each scale point, from "
                 "loading the module to the last real server resolved: drlb-tool's batch over one netlink socket, "
                 "ipvsadm -R. Guest seconds; 1 s = 1e9 instructions.\n")
        L.append("| curve | implementation | N | seconds |")
        L.append("|---|---|---|---|")
        for (c, impl, x), u in sorted(setups.items()):
            L.append(f"| {SCALE_NAMES.get(c, c)} | {impl} | {x} | {u / 1e6:.3f} |")
        L.append("")
    ns = [s for s in res["extras"]["scale"] if s["curve"] == "nonservice" and "ns_per_pkt" in s]
    if ns:
        base = next((s["ns_per_pkt"] for s in ns if s["impl"] == "nothing loaded"), None)
        L.append("## Traffic for no service (forwarded to the real server's own address)\n")
        L.append("| director | ns/packet | added to plain forwarding | lost |")
        L.append("|---|---|---|---|")
        for s in ns:
            add = "-" if base is None or s["impl"] == "nothing loaded" else f"{s['ns_per_pkt'] - base:+.0f}"
            L.append(f"| {s['impl']} | {s['ns_per_pkt']:.0f} | {add} | {s['sent'] - s['delivered']} |")
        L.append("")
    prof = res["extras"]["profile"]
    if prof:
        L.append("## Profile: instructions per packet by function\n")
        L.append("perf's cpu-clock samples on CPU 0, where pktgen and the whole path run; under -icount a share of "
                 "the busy samples (idle ones left out) is a share of the instructions executed. Instructions per "
                 "packet = share x the arm's median ns per packet in the blocks. The functions include the "
                 "client's (pktgen) and the sink's, which every arm pays alike. Full reports: "
                 "profile-ARM-TRAFFIC.txt.\n")
        per_fn = {}
        for p in prof:
            rows = p.get("resolved") or [(t["pct"], "", t["symbol"]) for t in p["top"]]
            idle = sum(r[0] for r in rows if r[2] in IDLE_SYMBOLS)
            busy = [r for r in rows if r[2] not in IDLE_SYMBOLS]
            total = sum(r[0] for r in busy)
            med = (res["summary"].get(p["traffic"], {}).get(p["arm"], {}).get("ns_per_pkt") or {}).get("median")
            ns = med or (p["usec"] * 1000.0 / p["sent"])
            per_fn[(p["arm"], p["traffic"])] = {(r[1], r[2]): r[0] / total * ns for r in busy} if total else {}
            by_dso = {}
            for r in busy:
                by_dso[r[1]] = by_dso.get(r[1], 0.0) + r[0]
            L.append(f"**{ARM_NAMES.get(p['arm'], p['arm'])}, {TRAFFIC_NAMES.get(p['traffic'], p['traffic'])}**: "
                     f"{ns:.0f} ns per packet; {idle:.1f}% of the samples idle; by module: "
                     + ", ".join(f"{k or '?'} {v / total * ns:.0f}" for k, v in
                                 sorted(by_dso.items(), key=lambda x: -x[1])[:6]) + "\n")
            L.append("| share of busy | instructions per packet | module | function |")
            L.append("|---|---|---|---|")
            for r in busy[:30]:
                share = r[0] / total if total > 0 else 0
                L.append(f"| {100 * share:.2f}% | {share * ns:.0f} | {r[1]} | `{r[2][:110]}` |")
            L.append("")
        for t in ["est", "new"]:
            a, b = per_fn.get(("drlb", t)), per_fn.get(("ideal", t))
            if not a or not b:
                continue
            keys = set(a) | set(b)
            diff = sorted(((a.get(k, 0) - b.get(k, 0), k) for k in keys), reverse=True)
            L.append(f"**drlb minus the ideal forwarder, {TRAFFIC_NAMES[t]}**: instructions per packet by function "
                     f"(sampled; total {sum(x for x, _ in diff):+.0f})\n")
            L.append("| drlb - ideal | module | function |")
            L.append("|---|---|---|")
            for x, k in diff[:25]:
                L.append(f"| {x:+.0f} | {k[0]} | `{k[1][:110]}` |")
            L.append("")
    L.append("Plots: " + ", ".join(sorted(f for f in os.listdir(res["dir"]) if f.endswith(".png"))) + "\n")
    return "\n".join(L)


def plots(d, res, traffics, arms, blocks, cost):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("analyze: no matplotlib (apt-get install python3-matplotlib): no plots", file=sys.stderr)
        return
    # 1. ns per packet of every arm, every block
    fig, axes = plt.subplots(1, len(traffics), figsize=(6 * len(traffics), 4.5), squeeze=False)
    for ax, t in zip(axes[0], traffics):
        for i, a in enumerate(arms):
            ys = [cost[t][a][b] for b in blocks if b in cost[t][a]]
            ax.scatter([i] * len(ys), ys, color=COLORS[a], alpha=0.7, s=18)
            if ys:
                ax.hlines(statistics.median(ys), i - 0.3, i + 0.3, color=COLORS[a])
        ax.set_xticks(range(len(arms)), [a for a in arms])
        ax.set_ylabel("guest ns per packet (= instructions)")
        ax.set_title(TRAFFIC_NAMES[t])
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Cost per packet, every arm, every block (line: median)")
    fig.tight_layout()
    fig.savefig(os.path.join(d, "cost-per-packet.png"), dpi=110)
    plt.close(fig)
    # 2. above the floor
    fig, axes = plt.subplots(1, len(traffics), figsize=(6 * len(traffics), 4.5), squeeze=False)
    for ax, t in zip(axes[0], traffics):
        names = [a for a in arms if a != "floor"]
        meds, lo, hi = [], [], []
        for a in names:
            s = res["summary"][t][a]["above_floor"]
            meds.append(s["median"] if s else 0)
            lo.append(s["median"] - s["min"] if s else 0)
            hi.append(s["max"] - s["median"] if s else 0)
        ax.bar(names, meds, yerr=[lo, hi], color=[COLORS[a] for a in names], capsize=4)
        for i, v in enumerate(meds):
            ax.text(i, v, f"{v:.0f}", ha="center", va="bottom", fontsize=8)
        ax.set_ylabel("ns per packet above the floor")
        ax.set_title(TRAFFIC_NAMES[t])
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Director cost above the PRE_ROUTING-drop floor (median, min-max)")
    fig.tight_layout()
    fig.savefig(os.path.join(d, "above-floor.png"), dpi=110)
    plt.close(fig)
    # 3. per-block ratios
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for t, style in zip(traffics, ["-", "--"]):
        for key, color in [("drlb/ipvs", COLORS["ipvs"]), ("drlb/ideal", COLORS["ideal"])]:
            r = res["ratios"][t].get(key)
            if r:
                ax.plot(range(1, len(r["values"]) + 1), r["values"], style, marker="o", color=color,
                        label=f"{key}, {TRAFFIC_NAMES[t]}")
    ax.axhline(GOAL_EST_VS_IDEAL, color=COLORS["ideal"], alpha=0.4, lw=0.8)
    ax.axhline(GOAL_NEW_VS_IPVS, color=COLORS["ipvs"], alpha=0.4, lw=0.8)
    ax.set_xlabel("block")
    ax.set_ylabel("ratio of costs above the floor")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title("Ratios per block (thin lines: the goals 1.25 and 0.6)")
    fig.tight_layout()
    fig.savefig(os.path.join(d, "ratios.png"), dpi=110)
    plt.close(fig)
    plot_nonservice(d, res, plt)
    # 4. scale curves
    scale = [s for s in res["extras"]["scale"] if "ns_per_pkt" in s]
    curves = sorted({(s["curve"], s.get("traffic", "")) for s in scale if s["curve"] != "nonservice"})
    if curves:
        cols = min(3, len(curves))
        rows = (len(curves) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.5 * rows), squeeze=False)
        for ax in axes.flat[len(curves):]:
            ax.set_visible(False)
        for ax, (c, t) in zip(axes.flat, curves):
            impls = sorted({s["impl"] for s in scale if s["curve"] == c and s.get("traffic", "") == t})
            for impl in impls:
                pts = sorted((s["x"], s["ns_per_pkt"] - (s.get("floor_ns") or 0)) for s in scale
                             if s["curve"] == c and s.get("traffic", "") == t and s["impl"] == impl)
                if pts:
                    base = impl.split()[0]
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                            color=COLORS.get(base), linestyle="--" if "maglev" in impl or "mh" in impl else "-",
                            label=impl)
            ax.set_xscale("log")
            ax.set_ylim(bottom=0)
            ax.set_title(f"{SCALE_NAMES.get(c, c)}, {TRAFFIC_NAMES.get(t, t)}", fontsize=10)
            ax.set_xlabel(SCALE_NAMES.get(c, c))
            ax.set_ylabel("ns per packet above the floor")
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        fig.suptitle("Scale curves")
        fig.tight_layout()
        fig.savefig(os.path.join(d, "scale.png"), dpi=110)
        plt.close(fig)


def plot_nonservice(d, res, plt):
    ns = [s for s in res["extras"]["scale"] if s["curve"] == "nonservice" and "ns_per_pkt" in s]
    if not ns:
        return
    fig, ax = plt.subplots(figsize=(8, 4))
    names = [s["impl"] for s in ns]
    vals = [s["ns_per_pkt"] for s in ns]
    colors = [COLORS["drlb"] if n.startswith("drlb") else COLORS["ipvs"] if n.startswith("IPVS")
              else COLORS["ideal"] if n.startswith("ideal") else COLORS["b0"] for n in names]
    ax.barh(range(len(ns)), vals, color=colors)
    ax.set_yticks(range(len(ns)), names, fontsize=8)
    ax.invert_yaxis()
    for i, v in enumerate(vals):
        ax.text(v, i, f" {v:.0f}", va="center", fontsize=8)
    ax.set_xlabel("guest ns per packet (= instructions), forwarded packets for no service")
    ax.set_title("Traffic for no service through the director")
    fig.tight_layout()
    fig.savefig(os.path.join(d, "nonservice.png"), dpi=110)
    plt.close(fig)


def ratio_table(res):
    L = ["traffic        arm    ns/packet  above floor  lost"]
    for t in res["summary"]:
        for a, s in res["summary"][t].items():
            ns = s["ns_per_pkt"]["median"] if s["ns_per_pkt"] else float("nan")
            ab = s["above_floor"]["median"] if s["above_floor"] and a != "floor" else None
            L.append(f"{t:<14} {a:<6} {ns:9.0f}  {'' if ab is None else f'{ab:11.0f}':>11}  {s['lost']}")
    L.append("")
    L.append("ratios above the floor, per block: median (min-max)")
    for t in res["ratios"]:
        for k in ["drlb/ipvs", "drlb/ideal"]:
            L.append(f"  {TRAFFIC_NAMES[t]:<26} {k:<11} {fmt_spread(res['ratios'][t].get(k))}")
    if res.get("crr"):
        L.append("")
        L.append("TCP connections/s against nginx: " + ", ".join(
            f"{a} {x['rps']['median']:.0f}" for a, x in res["crr"]["arms"].items() if x["rps"]))
    if res.get("sync"):
        L.append("")
        L.append("connection sync (sync.json):")
        L.append(syncanalyze.table(res["sync"]))
    L.append("")
    for v in res["verdicts"]:
        ver = "not measured" if v["meets"] is None else ("MEETS" if v["meets"] else "MISSES")
        val = "n/a" if v["value"] is None else f"{v['value']:.3f}"
        L.append(f"  {ver:<7} {v['goal']}: {val}")
    return "\n".join(L)


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        sys.exit(2)
    d = args[0]
    previous = None
    if "--previous" in args:
        previous = args[args.index("--previous") + 1]
    res, _ = analyze(d, previous)
    print(ratio_table(res))
    print(f"\nbench: {os.path.join(d, 'results.md')}, results.json and the plots")


if __name__ == "__main__":
    main()
