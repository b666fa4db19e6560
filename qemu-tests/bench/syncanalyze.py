#!/usr/bin/python3
"""Connection sync's throughput, from what bench/sync.sh left in a results
directory (sync.jsonl, sync-samples.jsonl): writes sync.json and prints
the table (analyze.py calls it too, and puts the table in results.md).

    syncanalyze.py DIR

Per rate step (times are guest time; the probe sampled every 50 ms):
  rate      the rate asked of pktgen, and the one it made (packets sent
            over its own elapsed time) and the master's entries made
  lag       the standby's lag: for each sample, how long until the
            standby's table (entries made since the step began) held what
            the master's held then; the largest over the step. "never" if
            the standby did not get there by the step's end (records lost)
  lost      the master's entries the standby did not get; and where
            records went: the master's queue overflow, the standby's UDP
            receive-buffer drops, the module's no-room and unknown counts
  cpu       each vrrpd's CPU time (utime+stime) over the step, as ms per
            guest second of the step and per 1000 records (read out on the
            master, applied on the standby)
The step keeps up when its lag is under 1 s and nothing was lost. The
master's cost of queuing is the pktgen windows' ns per new flow with
sending on minus off, taken per pair of windows (median, min-max).
"""
import json
import os
import statistics
import sys

LAG_LIMIT_S = 1.0
CLK_TCK_MS = 10  # (USER_HZ 100)


def load_jsonl(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    out.append(json.loads(line))
                except ValueError:
                    print(f"syncanalyze: {path}: not JSON: {line[:200]}", file=sys.stderr)
    return out


def spread(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)} if v else None


def step_figures(st, samples):
    t0, t1, t2 = st["t0"], st["t1"], st["t2"]
    before = [s for s in samples if s["t"] <= t0]
    inside = [s for s in samples if t0 < s["t"] <= t2]
    if not before or not inside:
        return {"rate": st["rate"], "error": "no samples"}
    base, last = before[-1], inside[-1]
    series = [base] + inside
    rel = [(s["t"], s["m"] - base["m"], s["s"] - base["s"]) for s in series]
    # (lag_i: until the first sample where the standby holds m_i, and
    # interpolated between that sample and the one before: the standby's
    # count is read just after the master's in each sample)
    lags, coarse, never = [], [], False
    for i, (t, m, _) in enumerate(rel):
        if m <= 0:
            continue
        j = next((j for j in range(i, len(rel)) if rel[j][2] >= m), None)
        if j is None:
            never = True
            break
        coarse.append(rel[j][0] - t)
        tj, sj = rel[j][0], rel[j][2]
        if j > i and sj > rel[j - 1][2]:
            tp, sp = rel[j - 1][0], rel[j - 1][2]
            tj = tp + (m - sp) / (sj - sp) * (tj - tp)
        lags.append(max(0.0, tj - t))
    d = lambda k: last[k] - base[k]
    made = last["m"] - base["m"]
    got = last["s"] - base["s"]
    dur = last["t"] - base["t"]
    traffic = t1 - t0
    f = {
        "rate": st["rate"],
        "asked_per_s": None if st["rate"] in ("idle", "max") else int(st["rate"]),
        "sent": st["sent"],
        "pktgen_usec": st["usec"],
        "sent_per_s": st["sent"] / (st["usec"] / 1e6) if st["usec"] else 0,
        "ns_per_pkt": st["usec"] * 1000.0 / st["sent"] if st["sent"] else None,
        "traffic_s": traffic,
        "step_s": dur,
        "entries_master": made,
        "entries_standby": got,
        # (over pktgen's own elapsed time: the entries are made while it sends)
        "entries_per_s": made / (st["usec"] / 1e6) if st["usec"] else 0,
        "max_lag_s": None if never else (max(lags) if lags else 0.0),
        "median_lag_s": statistics.median(lags) if lags and not never else None,
        "max_lag_s_sampled": None if never else (max(coarse) if coarse else 0.0),
        "catch_up": st.get("wait"),
        "lost": made - got,
        "records_read": d("msent"),
        "overflow": d("mover"),
        "applied": d("sapp"),
        "unknown": d("sunk"),
        "no_room": d("sroom"),
        "malformed": d("smal"),
        "udp_rcvbuf_drops": d("srcvbuf"),
        "udp_datagrams_received": d("sindg"),
        "udp_sndbuf_errors": d("msndbuf"),
        "queued_max": max(s["mq"] for s in series),
        "cpu_ms_master": d("mcpu") * CLK_TCK_MS,
        "cpu_ms_standby": d("scpu") * CLK_TCK_MS,
        "cpu_ms_probe": d("pcpu") * CLK_TCK_MS,
        "samples": len(series),
    }
    for side, recs in (("master", f["records_read"]), ("standby", f["applied"])):
        ms = f[f"cpu_ms_{side}"]
        f[f"cpu_ms_per_s_{side}"] = ms / dur if dur > 0 else None
        f[f"cpu_ms_per_1000_{side}"] = ms / (recs / 1000.0) if recs > 0 else None
    f["kept_up"] = (st["rate"] != "idle" and f["max_lag_s"] is not None and f["max_lag_s"] < LAG_LIMIT_S
                    and f["lost"] == 0 and f["overflow"] == 0)
    return f


def summarize(d):
    lines = load_jsonl(os.path.join(d, "sync.jsonl"))
    if not lines:
        return None
    samples = load_jsonl(os.path.join(d, "sync-samples.jsonl"))
    steps = [step_figures(s, samples) for s in lines if s.get("kind") == "step"]
    cost = [c for c in lines if c.get("kind") == "cost" and c.get("sent")]
    for c in cost:
        c["ns_per_flow"] = c["usec"] * 1000.0 / c["sent"]
    pairs = {}
    for c in cost:
        pairs.setdefault(c["rep"], {})[c["sync"]] = c
    diffs = [p[1]["ns_per_flow"] - p[0]["ns_per_flow"] for p in pairs.values() if 0 in p and 1 in p]
    off = [c["ns_per_flow"] for c in cost if c["sync"] == 0]
    on = [c["ns_per_flow"] for c in cost if c["sync"] == 1]
    qlost = sum(c.get("module", {}).get("overflow", 0) for c in cost if c["sync"] == 1)
    measured = [s for s in steps if "error" not in s and s["rate"] != "idle"]
    kept = [s for s in measured if s["kept_up"]]
    failed = [s for s in measured if not s["kept_up"]]
    best = max(kept, key=lambda s: s["entries_per_s"]) if kept else None
    if best and not failed:
        verdict = f"kept up at all rates tested, up to {best['entries_per_s']:.0f} new entries/s"
    elif best:
        first_fail = min(failed, key=lambda s: s["entries_per_s"])
        verdict = (f"largest rate within {LAG_LIMIT_S:g} s: {best['entries_per_s']:.0f} new entries/s "
                   f"(not at {first_fail['entries_per_s']:.0f}/s)")
    else:
        verdict = "kept up at no rate tested"
    status = {(x["side"], x["when"]): x.get("sync") or {} for x in lines if x.get("kind") == "vrrpd"}
    drops = {}
    for side in ("d", "s"):
        a, b = status.get((side, "before"), {}), status.get((side, "after"), {})
        drops["master" if side == "d" else "standby"] = {
            k: b.get(k, 0) - a.get(k, 0) for k in ("non_peer", "bad_auth", "malformed", "bad_version", "write_errors")
            if isinstance(b.get(k), int)}
        drops["module_error_" + ("master" if side == "d" else "standby")] = b.get("module_error")
    res = {
        "lag_limit_s": LAG_LIMIT_S,
        "vrrpd_drops": drops,
        "steps": steps,
        "largest_rate_kept_up": best and best["entries_per_s"],
        "largest_rate_kept_up_asked": best and best["rate"],
        "verdict": verdict,
        "queuing_cost": {"ns_per_flow_off": spread(off), "ns_per_flow_on": spread(on),
                         "on_minus_off": spread(diffs), "overflow_in_windows": qlost, "windows": cost},
        "vrrpd": [x for x in lines if x.get("kind") == "vrrpd"],
    }
    with open(os.path.join(d, "sync.json"), "w") as f:
        json.dump(res, f, indent=1)
    return res


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def table(res):
    L = ["| rate asked | made (entries/s) | max lag (at samples) | lost | overflow | rcvbuf drops | vrrpd CPU master: ms/s, ms/1000 rec | standby: ms/s, ms/1000 rec | kept up |",
         "|---|---|---|---|---|---|---|---|---|"]
    for s in res["steps"]:
        if "error" in s:
            L.append(f"| {s['rate']} | {s['error']} | | | | | | | |")
            continue
        lag = "never" if s["max_lag_s"] is None else \
            f"{s['max_lag_s'] * 1000:.0f} ms ({s['max_lag_s_sampled'] * 1000:.0f})"
        if s["rate"] == "idle":
            lag = "-"
        L.append(f"| {s['rate']} | {s['entries_per_s']:.0f} | {lag} | {s['lost']} | {s['overflow']} | "
                 f"{s['udp_rcvbuf_drops']} | {fmt(s['cpu_ms_per_s_master'], '.1f')}, "
                 f"{fmt(s['cpu_ms_per_1000_master'], '.2f')} | {fmt(s['cpu_ms_per_s_standby'], '.1f')}, "
                 f"{fmt(s['cpu_ms_per_1000_standby'], '.2f')} | {'' if s['rate'] == 'idle' else ('yes' if s['kept_up'] else 'no')} |")
    q = res["queuing_cost"]
    L.append("")
    if q["on_minus_off"]:
        d = q["on_minus_off"]
        L.append(f"- master's cost of queuing, pktgen windows of new flows: {d['median']:.0f} ns a new flow "
                 f"({d['min']:.0f} to {d['max']:.0f}, {d['n']} pairs) over "
                 f"{q['ns_per_flow_off']['median']:.0f} ns with sending off "
                 f"({q['overflow_in_windows']} records overflowed)")
    dr = res.get("vrrpd_drops", {})
    ok = [x for x in res["steps"] if "error" not in x]
    L.append("- the standby's module over the steps: unknown " + str(sum(x["unknown"] for x in ok))
             + ", no room " + str(sum(x["no_room"] for x in ok)) + ", malformed batches "
             + str(sum(x["malformed"] for x in ok)) + "; the master's UDP send-buffer errors "
             + str(sum(x["udp_sndbuf_errors"] for x in ok)))
    L.append("- vrrpd's drops over the run (non_peer, bad_auth, malformed, bad_version, write_errors): master "
             + ", ".join(f"{k} {v}" for k, v in dr.get("master", {}).items()) + "; standby "
             + ", ".join(f"{k} {v}" for k, v in dr.get("standby", {}).items())
             + "".join(f"; {k}: {v}" for k, v in dr.items() if k.startswith("module_error") and v))
    L.append(f"- result: {res['verdict']}")
    return "\n".join(L)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    res = summarize(sys.argv[1])
    if not res:
        sys.exit(f"syncanalyze: no sync.jsonl in {sys.argv[1]}")
    print(table(res))


if __name__ == "__main__":
    main()
