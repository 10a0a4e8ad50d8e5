#!/usr/bin/env python3
"""Python rows of the performance suite: shmring beside multiprocessing.

Five cases, each run for both modules in every round, in a random order
within the round (as the C++ suite interleaves its contestants):

  queue_bytes64   a producer Process puts N 64-byte bytes objects, the parent
                  gets them all (blocking put/get): messages/s
  queue_dicts     the same with small dicts (pickled): messages/s
  pipe_pingpong   the parent sends b"x" over a Pipe, a child sends it back:
                  ns per round trip
  dict_set / dict_get   Manager().dict(): d[k] = v, and d[k], over 100 keys
                  in one process: operations/s (the multiprocessing peer goes
                  to its manager's server process for each)
  pool_map        Pool(2).map(f, range(10**5)) of a tiny f on a started pool
                  warmed by one map of the same size, default chunksize: tasks/s

CPU per operation: user + system time of this process and of its children
that ended during the case (the producer, the echo child), per message.

  python_bench.py [--rounds N] [--quick] [--json FILE]

Prints a table (medians over rounds, ratios medians of per-round ratios) and
writes {"values": {name: {field: [per round]}}, "rows": [...]} with --json.
Run with the interpreter the package is built for (PYTHONPATH=build/python).
"""
import argparse
import json
import multiprocessing
import os
import random
import resource
import statistics
import sys
import time

import shmring

MODULES = {"shmring": shmring, "multiprocessing": multiprocessing}


def cpu_now():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _produce(q, start, n, item):
    start.wait()
    for _ in range(n):
        q.put(item)


def stream(mod, n, item):
    q = mod.Queue()
    start = mod.Event()
    p = mod.Process(target=_produce, args=(q, start, n, item))
    p.start()
    c0 = cpu_now()
    t0 = time.perf_counter()
    start.set()
    get = q.get
    for _ in range(n):
        get()
    t1 = time.perf_counter()
    p.join()
    return n / (t1 - t0), (cpu_now() - c0) / n * 1e9


def _echo(conn):
    while True:
        m = conn.recv()
        if m is None:
            return
        conn.send(m)


def pingpong(mod, n):
    a, b = mod.Pipe()
    p = mod.Process(target=_echo, args=(b,))
    p.start()
    a.send(b"x")  # the child is up
    a.recv()
    c0 = cpu_now()
    t0 = time.perf_counter()
    for _ in range(n):
        a.send(b"x")
        a.recv()
    t1 = time.perf_counter()
    a.send(None)
    p.join()
    return (t1 - t0) / n * 1e9, (cpu_now() - c0) / n * 1e9


def dict_ops(mod, n, op):
    m = mod.Manager()
    try:
        d = m.dict()
        for k in range(100):
            d[k] = k
        c0 = cpu_now()
        t0 = time.perf_counter()
        if op == "set":
            for i in range(n):
                d[i % 100] = i
        else:
            for i in range(n):
                d[i % 100]
        t1 = time.perf_counter()
        return n / (t1 - t0), (cpu_now() - c0) / n * 1e9
    finally:
        m.shutdown()


def _tiny(x):
    return x + 1


def pool_map(mod, n):
    with mod.Pool(2) as pool:
        # Warm, for both modules: a first map of this size pays one-time costs
        # in freshly forked workers (a shmring worker's first chunk took 5 ms
        # instead of 1), which a pool that is reused does not.
        pool.map(_tiny, range(n))
        c0 = cpu_now()
        t0 = time.perf_counter()
        out = pool.map(_tiny, range(n))
        t1 = time.perf_counter()
        c1 = cpu_now()
        assert out[-1] == n
    return n / (t1 - t0), (c1 - c0) / n * 1e9


# name, metric, field, higher is better, target (ratio shmring/multiprocessing), function
def cases(quick):
    k = 10 if quick else 1
    item = {"id": 12345, "price": 101.25, "side": "buy", "qty": 100}
    return [
        ("queue_bytes64", "64-byte bytes, Queue 1P1C", "messages/s", ">=", 10.0,
         lambda mod: stream(mod, 200000 // k, b"x" * 64)),
        ("queue_dicts", "small dicts (pickled), Queue 1P1C", "messages/s", ">=", 5.0,
         lambda mod: stream(mod, 100000 // k, item)),
        ("pipe_pingpong", "Pipe ping-pong round trip", "ns", "<=", 0.2, lambda mod: pingpong(mod, 20000 // k)),
        ("dict_set", "Manager().dict() d[k] = v", "ops/s", ">=", 100.0, lambda mod: dict_ops(mod, 20000 // k, "set")),
        ("dict_get", "Manager().dict() d[k]", "ops/s", ">=", 100.0, lambda mod: dict_ops(mod, 20000 // k, "get")),
        ("pool_map", "Pool(2).map of 10^5 tiny tasks", "tasks/s", ">=", 3.0, lambda mod: pool_map(mod, 100000 // k)),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a tenth of the messages (a smoke run)")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    args = ap.parse_args()
    multiprocessing.set_start_method("fork")
    values = {}
    todo = [c for c in cases(args.quick) if not args.cases or c[0] in args.cases.split(",")]
    for r in range(1, args.rounds + 1):
        runs = [(c, m) for c in todo for m in MODULES]
        random.shuffle(runs)
        for c, m in runs:
            v, cpu = c[5](MODULES[m])
            e = values.setdefault("PY_%s_%s" % (m, c[0]), {"value": [], "cpu_ns_per_op": []})
            e["value"].append(v)
            e["cpu_ns_per_op"].append(cpu)
        print("  python round %d/%d done" % (r, args.rounds), file=sys.stderr, flush=True)
    rows, ranges = [], []
    for key, case, metric, op, target, _ in todo:
        ours, theirs = values["PY_shmring_" + key], values["PY_multiprocessing_" + key]
        ratios = [a / b for a, b in zip(ours["value"], theirs["value"])]
        ratio = statistics.median(ratios)
        rows.append({"case": "Python: " + case, "metric": metric, "shmring": statistics.median(ours["value"]),
                     "peer": "Python multiprocessing", "peer_value": statistics.median(theirs["value"]),
                     "ratio": ratio, "target": "%s %g" % (op, target),
                     "pass": ratio >= target if op == ">=" else ratio <= target,
                     "cpu_ns_per_op": statistics.median(ours["cpu_ns_per_op"]),
                     "peer_cpu_ns_per_op": statistics.median(theirs["cpu_ns_per_op"])})
        ranges.append((min(ratios), max(ratios)))
    for r, (lo, hi) in zip(rows, ranges):
        print("%-45s %-11s shmring %12.4g  multiprocessing %12.4g  ratio %8.3g (%s; rounds %.3g..%.3g) %s" % (
            r["case"], r["metric"], r["shmring"], r["peer_value"], r["ratio"], r["target"], lo, hi,
            "PASS" if r["pass"] else "MISS"))
    if any(c[0] == "pool_map" for c in todo):
        # The Pool row beside the work itself: two workers cannot take less
        # than half the time one process needs for list(map(f, ...)), before
        # any pickling or message.
        n = 100000 // (10 if args.quick else 1)
        serial = []
        for _ in range(5):
            t0 = time.perf_counter()
            list(map(_tiny, range(n)))
            serial.append(time.perf_counter() - t0)
        floor = statistics.median(serial) / 2
        mp_time = n / statistics.median(values["PY_multiprocessing_pool_map"]["value"])
        ours = n / statistics.median(values["PY_shmring_pool_map"]["value"])
        print("pool_map: the work itself, list(map(f, range(%d))) in one process, takes %.2f ms (two workers: "
              "%.2f ms at best, before any pickling); shmring took %.2f ms, multiprocessing %.2f ms"
              % (n, floor * 2e3, floor * 1e3, ours * 1e3, mp_time * 1e3))
        values["PY_serial_pool_map"] = {"value": [n / t for t in serial]}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"values": values, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
