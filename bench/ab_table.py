#!/usr/bin/env python3
# ab_table.py RAW: medians of bench/ab_runtime.sh output per (bench, workers, peer): go, before,
# after, the ratios before/go, after/go, after/before, and the after values.
import sys, collections, statistics
d=collections.defaultdict(list)
for line in open(sys.argv[1]):
    if not line.startswith('bench='): continue
    f=dict(kv.split('=',1) for kv in line.split() if '=' in kv)
    if f.get('value') in ('NA','FAIL'): continue
    key=(f['bench'], f.get('unit'), f['workers'])
    # skynet prints two lines (ms and maxrss)
    d[(f['bench']+('' if f['unit']!='bytes' or f['bench']=='idle_memory' else '_rss'), f['workers'], f['peer'])].append(float(f['value']))
rows=sorted(set((b,w) for b,w,p in d))
print(f"{'bench':22} w {'go':>10} {'before':>10} {'after':>10} {'b/go':>6} {'a/go':>6} {'a/b':>6}  (after values)")
for b,w in rows:
    m={p:statistics.median(d[(b,w,p)]) for p in ('go','before','after') if (b,w,p) in d}
    g=m.get('go'); be=m.get('before'); a=m.get('after')
    fmt=lambda x: f"{x:10.1f}" if x is not None else f"{'-':>10}"
    r=lambda x,y: f"{x/y:6.2f}" if x and y else f"{'-':>6}"
    print(f"{b:22} {w} {fmt(g)} {fmt(be)} {fmt(a)} {r(be,g)} {r(a,g)} {r(a,be)}  {sorted(d.get((b,w,'after'),[]))}")
