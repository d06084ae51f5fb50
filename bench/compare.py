#!/usr/bin/env python3
"""canal beside its peers, with the canal/Go ratio of every row checked against its target.

Input: a raw result file of bench/run_peers.sh (bench/peers/run_all.sh with the canal peer) or
of bench/canal_vs_go.sh (lines 'bench=<b> peer=<p> workers=<w> value=<v> unit=<u> ...'; others
are ignored). Repeats of one (bench, peer, workers) are reduced to their median, as
bench/peers/table.py does.

usage: bench/compare.py RAW_FILE [--markdown]
"""
import statistics
import sys

PEERS = ["canal", "go", "boostfiber", "thread", "gevent"]
ORDER = ["pingpong", "spawn_join", "skynet", "skynet_maxrss", "chan_spsc", "chan_mpmc",
         "select_fanin", "timers", "timers_overshoot_mean", "timers_overshoot_p99", "idle_memory",
         "tcp_echo"]

# (bench, workers or None for all) -> (limit, goal, note). canal/Go, lower is better, except
# tcp_echo (higher is better: ops/s). None: no target (shown for information).
TARGETS = {
    ("pingpong", 1): (0.5, 0.25, ""),
    ("pingpong", 2): (1.0, 0.5, ""),
    ("spawn_join", None): (1.0, 0.3, ""),
    ("skynet", None): (1.0, 0.5, ""),
    ("skynet_maxrss", None): (2.0, 1.5, ""),
    ("chan_spsc", None): (1.2, 0.8, ""),
    ("chan_mpmc", None): (1.2, 0.8, ""),
    ("select_fanin", None): (1.0, 0.5, ""),
    ("timers", None): (1.0, 0.5, ""),
    ("timers_overshoot_p99", None): (0.5, None, "goal: p99 <= 5 ms"),
    ("idle_memory", None): (2.0, 1.6, ""),
}


def parse(path):
    rows = {}
    header = []
    for line in open(path):
        if line.startswith("#"):
            header.append(line.rstrip("\n"))
            continue
        kv = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
        if not {"bench", "peer", "workers", "value", "unit"} <= kv.keys():
            continue
        key = (kv["bench"], kv["peer"], int(kv["workers"]))
        r = rows.setdefault(key, {"vals": [], "unit": kv["unit"], "n": kv.get("n"), "note": None})
        try:
            r["vals"].append(float(kv["value"]))
            if kv["unit"] != "-":
                r["unit"] = kv["unit"]
        except ValueError:
            r["note"] = "N/A" if kv["value"] == "NA" else "FAIL"
    return header, rows


def median(r):
    return statistics.median(r["vals"]) if r and r["vals"] else None


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.2f}G"
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e4:
        return f"{v / 1e3:.1f}k"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def cell(r):
    if r is None:
        return "-"
    if r["note"] and not r["vals"]:
        return r["note"]
    s = fmt(median(r))
    if r["note"] == "FAIL":
        s += " (FAIL in some runs)"
    return s


def target_for(bench, w):
    return TARGETS.get((bench, w)) or TARGETS.get((bench, None))


def verdict(bench, w, canal, go):
    t = target_for(bench, w)
    c, g = median(canal), median(go)
    if canal is not None and canal["note"] == "FAIL":
        return None, "-", "**FAIL**"
    if bench == "tcp_echo" and c is None:
        return None, "NA for now", "N/A (as expected)"
    if c is None or g is None or g == 0:
        return None, ("-" if t is None else f"<= {t[0]}"), ("N/A" if t else "")
    ratio = c / g
    if bench == "tcp_echo":
        return ratio, "(higher is better)", ""
    if t is None:
        return ratio, "-", "(info)"
    limit, goal, note = t
    tgt = f"<= {limit}" + (f" (goal {goal})" if goal is not None else "") + (f"; {note}" if note else "")
    v = "meets" if ratio <= limit else "**misses**"
    if goal is not None and ratio <= goal:
        v = "meets goal"
    if bench == "timers_overshoot_p99" and ratio <= limit and c <= 5.0:
        v = "meets goal"
    return ratio, tgt, v


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    md = "--markdown" in sys.argv
    header, rows = parse(sys.argv[1])
    present = [p for p in PEERS if any(k[1] == p for k in rows)]  # not "machine" (physlimits)
    keys = sorted({(b, w) for (b, p, w) in rows if p in present},
                  key=lambda k: (ORDER.index(k[0]) if k[0] in ORDER else 99, k[1]))
    cols = ["bench", "workers", "unit"] + present + ["canal/go", "target", "verdict"]
    out = []
    for b, w in keys:
        unit = next((rows[(b, p, w)]["unit"] for p in present if (b, p, w) in rows), "-")
        cells = []
        for p in present:
            r = rows.get((b, p, w))
            s = cell(r)
            if r and r["n"] and p in ("thread", "gevent") and r["vals"]:
                base = rows.get((b, "go", w))
                if base and base["n"] and base["n"] != r["n"]:
                    s += f" (n={r['n']})"
            cells.append(s)
        ratio, tgt, v = verdict(b, w, rows.get((b, "canal", w)), rows.get((b, "go", w)))
        out.append([b, str(w), unit] + cells + [("-" if ratio is None else f"{ratio:.2f}"), tgt, v])
    for h in header:
        print(h if not md else h.replace("# ", "", 1) + "  ")
    if md:
        print()
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
        for r in out:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(c), *(len(r[i]) for r in out)) for i, c in enumerate(cols)]
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(cols)))
        for r in out:
            print("  ".join(x.ljust(widths[i]) for i, x in enumerate(r)))


if __name__ == "__main__":
    main()
