#!/usr/bin/env python3
"""The latency floor of this machine, before any flashsale code runs (docs/benchmarks.md).

1. vCPU gaps: one spinning process per CPU for DURATION s, counting clock gaps > 0.5 ms (the
   CPU was taken away: by the host on a VM, or by another task);
2. ping-pong: round trips of one byte between two processes over a socketpair, one every 5 ms
   (each wakes a sleeping process, as every hop of a request does);
3. fdatasync: 4,000 8 kB writes + fdatasync to a file in DIR (default: the current directory),
   what a commit's WAL flush costs at best;
4. a system call: the time of one getppid(), the cheapest call there is, less the same loop
   without it (a paravirtualised guest can take several times bare metal's ~0.1 µs, and every
   request costs a few calls).

Usage: bench/machine_floor.py [DIR]   (DURATION=10 by default)
"""
import os
import socket
import sys
import time
from multiprocessing import Pool

DURATION = float(os.environ.get("DURATION", "10"))


def q(xs, p):
    return xs[min(len(xs) - 1, max(0, int(p * len(xs)) - 1))]


def gaps(cpu):
    os.sched_setaffinity(0, {cpu})
    found, last = [], time.perf_counter()
    end = last + DURATION
    while last < end:
        now = time.perf_counter()
        if now - last > 0.0005:
            found.append(now - last)
        last = now
    return cpu, found


def pingpong(gap=0.005, n=2000):
    a, b = socket.socketpair()
    if os.fork() == 0:
        a.close()
        while True:
            d = b.recv(1)
            if not d:
                os._exit(0)
            b.send(d)
    b.close()
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        a.send(b"x")
        a.recv(1)
        lat.append((time.perf_counter() - t) * 1e6)
        time.sleep(gap)
    a.close()
    os.wait()
    return sorted(lat)


def fsyncs(folder, n=4000):
    path = os.path.join(folder, ".machine_floor_probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    buf, lat, off = b"x" * 8192, [], 0
    try:
        for _ in range(n):
            t = time.perf_counter()
            os.pwrite(fd, buf, off)
            off = (off + 8192) % (16 << 20)
            os.fdatasync(fd)
            lat.append((time.perf_counter() - t) * 1e3)
            time.sleep(0.0005)
    finally:
        os.close(fd)
        os.unlink(path)
    return sorted(lat)


def syscall_ns(n=1000000):
    getppid, best = os.getppid, []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            getppid()
        with_call = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(n):
            pass
        best.append((with_call - (time.perf_counter() - t)) / n * 1e9)
    return min(best)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "."
    cpus = sorted(os.sched_getaffinity(0))
    with Pool(len(cpus)) as pool:
        for cpu, g in pool.map(gaps, cpus):
            g.sort()
            print("cpu%d: %d gaps > 0.5 ms in %.0f s (%.2f %% of the time), largest (ms): %s" % (
                cpu, len(g), DURATION, 100 * sum(g) / DURATION,
                " ".join("%.1f" % (x * 1e3) for x in g[-6:]) or "-"))
    lat = pingpong()
    print("ping-pong every 5 ms, round trip (µs): p50 %.0f p99 %.0f p99.9 %.0f max %.0f" % (
        q(lat, .5), q(lat, .99), q(lat, .999), lat[-1]))
    print("one system call (getppid, best of 3 x 10^6): %.0f ns" % syscall_ns())
    lat = fsyncs(folder)
    print("8 kB write + fdatasync in %s (ms): p50 %.3f p99 %.3f p99.9 %.3f max %.3f" % (
        folder, q(lat, .5), q(lat, .99), q(lat, .999), lat[-1]))


if __name__ == "__main__":
    main()
