#!/usr/bin/env python3
"""Quantiles of Prometheus histograms between two /metrics snapshots (bench helper).

Usage: hist_quantiles.py BEFORE AFTER METRIC [label=value ...]
Prints "n=<count> p50=<ms> p90=<ms> p99=<ms>" for the observations made between the two
snapshots, summed over the series whose labels match, interpolating linearly inside a bucket
(so a figure is only as precise as the bucket bounds: ... 5, 10, 25, 50, 100 ms ...).
"""
import re
import sys

LINE = re.compile(r'^(\w+)_bucket\{(.*)\} (\S+)$')


def buckets(path, metric, want):
    out = {}
    for line in open(path):
        m = LINE.match(line.strip())
        if not m or m.group(1) != metric:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if any(labels.get(k) != v for k, v in want.items()):
            continue
        le = float('inf') if labels['le'] == '+Inf' else float(labels['le'])
        out[le] = out.get(le, 0.0) + float(m.group(3))
    return out


def main():
    before_path, after_path, metric = sys.argv[1:4]
    want = dict(a.split('=', 1) for a in sys.argv[4:])
    before, after = buckets(before_path, metric, want), buckets(after_path, metric, want)
    bounds = sorted(after)
    cum = [after[b] - before.get(b, 0.0) for b in bounds]
    total = cum[-1] if cum else 0
    if total <= 0:
        print('n=0')
        return

    def q(p):
        rank = p * total
        lo_b, lo_c = 0.0, 0.0
        for b, c in zip(bounds, cum):
            if c >= rank:
                if b == float('inf'):
                    return lo_b
                return lo_b + (b - lo_b) * ((rank - lo_c) / (c - lo_c) if c > lo_c else 1)
            lo_b, lo_c = b, c
        return lo_b

    print('n=%d p50=%.1f p90=%.1f p99=%.1f' % (total, q(.5) * 1e3, q(.9) * 1e3, q(.99) * 1e3))


main()
