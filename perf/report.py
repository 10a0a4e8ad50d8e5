#!/usr/bin/env python3
"""Runs shmring_bench against its peers and prints the ratio table.

The suite runs in ROUNDS rounds; each round runs every benchmark once, in a
random order (Google Benchmark's random interleaving), so the contestants
alternate. Each figure is the median over the rounds, and each ratio is the
median of the ratios taken within each round: on a shared machine a slow
spell slows both contestants of a round, and the per-round ratio survives it
where a ratio of medians would not. The table compares each shmring figure
with its peer and with the target from docs/contract.md ("Performance targets").

  perf/report.py                       table on stdout, progress on stderr
  perf/report.py --json rows.json      also the rows as JSON
  perf/report.py --plot perf.png       also a plot (gnuplot): throughput by
                                       message size, and round-trip latency
  perf/report.py --no-python           without the Python rows (perf/python_bench.py:
                                       shmring's Python package beside multiprocessing,
                                       run when the build has the package)
  perf/report.py --no-bridge           without the bridge rows (shmring_bridge_bench:
                                       the JetStream bridge beside plain nats.c, run when
                                       the build has it and nats-server is on PATH)
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Throughput benchmarks swept by message size, for the plot.
SIZES = [8, 64, 512, 4096, 65536]
STREAMS = [("shmring Queue, SPSC engine", "BM_Queue_Bytes"), ("shmring Queue, fixed-size", "BM_QueueFixed_Bytes"),
           ("shmring Queue, default engine (lanes)", "BM_QueueLanes_Bytes"),
           ("Boost.Interprocess message_queue", "BM_BoostMq_Bytes"),
           ("POSIX mq", "BM_PosixMq_Bytes"), ("pipe(2)", "BM_Pipe_Bytes")]
PINGPONGS = [("shmring Queue", "BM_Queue_PingPong"), ("pipe", "BM_Pipe_PingPong"),
             ("eventfd", "BM_Eventfd_PingPong"), ("POSIX mq", "BM_PosixMq_PingPong"),
             ("Boost.Interprocess mq", "BM_BoostMq_PingPong"), ("raw futex", "BM_Futex_PingPong"),
             ("spinning on one line", "BM_Spin_PingPong")]


def rows_spec():
    """(case, metric, shmring benchmark, peer name, peer benchmark, field, target op, target, ratio kind)."""
    q64 = "BM_Queue_Bytes/64"
    f64 = "BM_QueueFixed_Bytes/64"
    fixed = "64-byte messages, blocking Queue, 1P1C (fixed-size messages)"
    spec = [
        ("8-byte typed messages", "messages/s", "BM_Spsc_Typed8", "boost::lockfree::spsc_queue",
         "BM_BoostSpsc_Typed8", "items_per_second", ">=", 1.5),
        ("8-byte values as byte-ring records (context)", "messages/s", "BM_SpscRecords_Typed8",
         "boost::lockfree::spsc_queue", "BM_BoostSpsc_Typed8", "items_per_second", None, None),
        ("64-byte messages, bare byte ring, spinning (context)", "messages/s", "BM_Spsc_Bytes/64",
         "boost::lockfree::spsc_queue (64 B)", "BM_BoostSpsc_Fixed64", "items_per_second", None, None),
        ("56-byte messages (64-byte records), bare byte ring (context)", "messages/s", "BM_Spsc_Bytes/56",
         "boost::lockfree::spsc_queue (64 B)", "BM_BoostSpsc_Fixed64", "items_per_second", None, None),
        ("56-byte messages (64-byte records), blocking Queue (context)", "messages/s", "BM_Queue_Bytes/56",
         "boost::lockfree::spsc_queue (64 B)", "BM_BoostSpsc_Fixed64", "items_per_second", None, None),
        ("64-byte slots, bare slot ring, spinning (context)", "messages/s", "BM_SpscSlots_Bytes/64",
         "boost::lockfree::spsc_queue (64 B)", "BM_BoostSpsc_Fixed64", "items_per_second", None, None),
        (fixed, "messages/s", f64, "Boost.Interprocess message_queue", "BM_BoostMq_Bytes/64",
         "items_per_second", ">=", 10.0),
        (fixed, "messages/s", f64, "boost::lockfree::spsc_queue (64 B)", "BM_BoostSpsc_Fixed64",
         "items_per_second", ">=", 1.0),
        ("64-byte messages, blocking Queue, 1P1C (any-size messages: context)", "messages/s", q64,
         "Boost.Interprocess message_queue", "BM_BoostMq_Bytes/64", "items_per_second", None, None),
        ("64-byte messages, blocking Queue, 1P1C (any-size messages: context)", "messages/s", q64,
         "boost::lockfree::spsc_queue (64 B)", "BM_BoostSpsc_Fixed64", "items_per_second", None, None),
        ("64-byte messages, blocking Queue, 1P1C", "messages/s", q64, "POSIX mq", "BM_PosixMq_Bytes/64",
         "items_per_second", None, None),
        ("64-byte messages, blocking Queue, 1P1C", "messages/s", q64, "pipe(2)", "BM_Pipe_Bytes/64",
         "items_per_second", None, None),
        ("64-byte messages, blocking Queue, 1P1C", "messages/s", q64, "Python multiprocessing.Queue",
         "BM_PythonMpQueue_Bytes64/200000", "items_per_second", None, None),
    ]
    for peer, bench in PINGPONGS[1:5]:
        spec.append(("blocking ping-pong round trip", "ns", "BM_Queue_PingPong", peer, bench, "real_time", "<=", 0.1))
    spec.append(("blocking ping-pong round trip", "ns", "BM_Queue_PingPong", "raw futex", "BM_Futex_PingPong",
                 "real_time", None, None))
    spec.append(("blocking ping-pong round trip", "ns", "BM_Queue_PingPong", "floor: spinning on one line",
                 "BM_Spin_PingPong", "real_time", "<=", 3.0))
    for peer, bench in [("pipe(2)", "BM_Pipe_PingPong"), ("socketpair (Python's Pipe)", "BM_Socketpair_PingPong")]:
        spec.append(("Pipe (Connection) ping-pong round trip (context)", "ns", "BM_Connection_PingPong", peer, bench,
                     "real_time", None, None))
    spec.append(("steady streaming, 64 B: system calls per message", "calls/msg", q64, None, None,
                 "syscalls_per_msg", "<=", 0.01))
    lanes = "64-byte messages, default engine (lanes)"
    spec.append((f"{lanes}, 1P1C", "messages/s",
                 "BM_QueueLanes_Bytes/64", "the SPSC engine (BM_Queue_Bytes/64)", q64, "items_per_second", ">=", 0.8))
    # What bounds the row above: a lone producer writes one lane (1/8 of the
    # capacity), and the SPSC engine given that much room streams about as fast.
    spec.append((f"{lanes}, 1P1C vs the SPSC engine with one lane's room (context: the bound)", "messages/s",
                 "BM_QueueLanes_Bytes/64", "the SPSC engine, 1/8 of the capacity (BM_QueueOneLane_Bytes/64)",
                 "BM_QueueOneLane_Bytes/64", "items_per_second", None, None))
    for p, c, target in [(2, 2, 5.0), (4, 4, 5.0), (4, 1, None), (1, 4, None)]:
        spec.append((f"{lanes}, {p}P{c}C" + ("" if target else " (context)"), "messages/s",
                     f"BM_QueueLanes_Crowd/{p}/{c}", "boost::lockfree::queue (64 B)", f"BM_BoostLfQueue_Crowd/{p}/{c}",
                     "items_per_second", ">=" if target else None, target))
    for p, c in [(2, 2), (4, 4)]:
        spec.append((f"{lanes}, {p}P{c}C, consumers using get_many (context)", "messages/s",
                     f"BM_QueueLanes_CrowdGetMany/{p}/{c}", "boost::lockfree::queue (64 B)",
                     f"BM_BoostLfQueue_Crowd/{p}/{c}", "items_per_second", None, None))
    # The default is the lane engine because it beats the MPMC ring on every many-producer row.
    spec.append((f"{lanes} vs the MPMC ring, 1P1C (context)", "messages/s", "BM_QueueLanes_Bytes/64",
                 "Engine::mpmc (BM_QueueMpmc_Bytes/64)", "BM_QueueMpmc_Bytes/64", "items_per_second", None, None))
    for p, c in [(2, 2), (4, 4), (4, 1), (1, 4)]:
        spec.append((f"{lanes} vs the MPMC ring, {p}P{c}C (context)", "messages/s", f"BM_QueueLanes_Crowd/{p}/{c}",
                     f"Engine::mpmc (BM_QueueMpmc_Crowd/{p}/{c})", f"BM_QueueMpmc_Crowd/{p}/{c}", "items_per_second",
                     None, None))
    # Batches: get_many against single gets, both fed by put_many (so the
    # producer is not what limits the consumer); put_many + get_many against
    # single put + get.
    # get_many against single gets, the consumer's cost alone: one process
    # drains a queue put_many filled (the fill not timed).
    spec.append((f"{lanes}, get_many vs get (draining a full queue, one process)", "messages/s",
                 "BM_QueueLanes_DrainGetMany/64", "get, one at a time (BM_QueueLanes_DrainGet/64)",
                 "BM_QueueLanes_DrainGet/64", "items_per_second", ">=", 2.0))
    # The same across processes, fed by a put_many producer: once single
    # gets keep up with it, the producer limits both (context).
    spec.append((f"{lanes}, get_many vs get (put_many feeding both across processes: context)", "messages/s",
                 "BM_QueueLanes_Batch/64", "get, one at a time (BM_QueueLanes_PutMany/64)", "BM_QueueLanes_PutMany/64",
                 "items_per_second", None, None))
    spec.append((f"{lanes}, put_many + get_many vs put + get (context)", "messages/s", "BM_QueueLanes_Batch/64",
                 "put + get (BM_QueueLanes_Bytes/64)", "BM_QueueLanes_Bytes/64", "items_per_second", None, None))
    spec.append(("64-byte messages, SPSC engine, put_many + get_many vs put + get (context)", "messages/s",
                 "BM_Queue_Batch/64", "put + get (BM_Queue_Bytes/64)", q64, "items_per_second", None, None))
    spec.append(("64 KiB messages", "bytes/s", "BM_Queue_Bytes/65536", "memcpy, same machine",
                 "BM_Memcpy_Bytes/65536", "bytes_per_second", ">=", 0.5))
    spec.append(("64 KiB messages, fixed-size (context)", "bytes/s", "BM_QueueFixed_Bytes/65536",
                 "memcpy, same machine", "BM_Memcpy_Bytes/65536", "bytes_per_second", None, None))
    spec.append(("64 KiB messages vs the bare ring between cores (context)", "bytes/s", "BM_Queue_Bytes/65536",
                 "bare byte ring, spinning, 64 KiB", "BM_Spsc_Bytes/65536", "bytes_per_second", None, None))
    spec.append(("Lock acquire+release, uncontended (context)", "ns", "BM_Lock_Uncontended",
                 "robust process-shared pthread_mutex", "BM_PthreadRobustMutex_Uncontended", "real_time", None, None))
    spec.append(("Lock acquire+release, 2 processes contending (context)", "pairs/s", "BM_Lock_Contended",
                 "robust process-shared pthread_mutex", "BM_PthreadRobustMutex_Contended", "items_per_second",
                 None, None))
    spec.append(("Value<uint64_t> set+get under its lock (context)", "ns", "BM_Value_ReadWrite",
                 "lock=false atomic store+load", "BM_ValueRaw_ReadWrite", "real_time", None, None))
    # Event loops (Queue::fileno()): the wake-up through the descriptor
    # against the raw eventfd round trip; the cost of a registered
    # descriptor while the consumer does not wait on it, and of an epoll
    # consumer.
    fd_rt = "event-loop wake-up: ping-pong, each side an epoll loop on a queue's descriptor"
    spec.append((fd_rt, "ns", "BM_QueueFd_PingPong", "raw eventfd, blocking read", "BM_Eventfd_PingPong",
                 "real_time", "<=", 1.2))
    spec.append((fd_rt + " (context)", "ns", "BM_QueueFd_PingPong", "raw eventfd in the same epoll loop",
                 "BM_EventfdEpoll_PingPong", "real_time", None, None))
    spec.append(("streaming 64 B, descriptor registered, consumer taking with get(): system calls per message",
                 "calls/msg", "BM_QueueFd_StreamRegistered/64", None, None, "syscalls_per_msg", "<=", 0.01))
    spec.append(("streaming 64 B, consumer an epoll loop: system calls per message (context)", "calls/msg",
                 "BM_QueueFd_StreamEventLoop/64", None, None, "syscalls_per_msg", None, None))
    spec.append(("streaming 64 B, descriptor registered vs none (context)", "messages/s",
                 "BM_QueueFd_StreamRegistered/64", "no descriptor (BM_QueueLanes_Bytes/64)", "BM_QueueLanes_Bytes/64",
                 "items_per_second", None, None))
    spec.append(("streaming 64 B, epoll consumer vs blocking gets (context)", "messages/s",
                 "BM_QueueFd_StreamEventLoop/64", "no descriptor (BM_QueueLanes_Bytes/64)", "BM_QueueLanes_Bytes/64",
                 "items_per_second", None, None))
    spec.append(("consumer blocked 1 s on an empty queue", "% of a core", "BM_Queue_BlockedConsumerCpu", None, None,
                 "cpu_percent", "<=", 1.0))
    return spec


def bridge_rows_spec():
    """The JetStream bridge's rows (shmring_bridge_bench, perf/bridge/bridge_benchmarks.cpp)."""
    spec = []
    for size, label in [(64, "64 B"), (1024, "1 KiB")]:
        spec.append((f"JetStream bridge out, {label} messages, window 256", "messages/s", f"BM_BridgeOut/{size}/256",
                     "plain nats.c async publisher, window 256", f"BM_PlainPublisher/{size}/256", "items_per_second",
                     ">=", 0.8))
    for size, label in [(64, "64 B"), (1024, "1 KiB")]:
        spec.append((f"JetStream bridge out, {label} messages, window 1 (context)", "messages/s",
                     f"BM_BridgeOut/{size}/1", "plain nats.c async publisher, window 1", f"BM_PlainPublisher/{size}/1",
                     "items_per_second", None, None))
    for window in [256, 1]:
        for q, field in [("median", "latency_p50_ns"), ("99th percentile", "latency_p99_ns")]:
            spec.append((f"queue -> bridge out -> stream -> bridge in -> queue, 64 B, window {window}: one-way "
                         f"latency, {q} (context)", "ns", f"BM_BridgeEndToEnd/64/{window}",
                         "floor: nats.c publish -> pull consumer", f"BM_NatsEndToEnd/64/{window}", field, None, None))
    return spec


def find_bench(explicit):
    for path in [explicit, os.path.join(HERE, "..", "build", "perf", "shmring_bench")]:
        if path and os.path.exists(path):
            return path
    sys.exit("report.py: shmring_bench not found; build first (scripts/bench.sh) or pass --bench PATH")


def run_rounds(bench, rounds, min_time, bench_filter, allow_empty=False):
    """Runs the suite `rounds` times; returns {name: {field: [values]}} and the context.
    allow_empty: a filter that selects none of the binary's benchmarks is no error."""
    values, context = {}, None
    for r in range(1, rounds + 1):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
            out_path = out.name
        cmd = [bench, f"--benchmark_out={out_path}", "--benchmark_out_format=json",
               "--benchmark_enable_random_interleaving=true", f"--benchmark_filter={bench_filter}"]
        if min_time:
            cmd.append(f"--benchmark_min_time={min_time}")
        t0 = time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        done = 0
        tty = sys.stderr.isatty()
        for line in proc.stdout:
            if line.startswith("BM_"):
                done += 1
                name = line.split()[0].split("/min_time")[0].split("/real_time")[0].split("/manual_time")[0]
                if tty:
                    print(f"\r  round {r}/{rounds}: {done:2d} benchmarks done, last {name:<45.45}", end="",
                          file=sys.stderr, flush=True)
                elif done % 8 == 0:
                    print(f"  round {r}/{rounds}: {done} benchmarks done", file=sys.stderr, flush=True)
        if proc.wait() != 0:
            sys.exit(f"\nreport.py: {bench} failed (exit {proc.returncode})")
        end = "\r" if tty else ""
        print(f"{end}  round {r}/{rounds}: {done} benchmarks in {time.time() - t0:.0f} s{' ' * 50 if tty else ''}",
              file=sys.stderr)
        try:
            with open(out_path) as f:
                data = json.load(f)
        except ValueError:
            data = {"benchmarks": []}
        os.unlink(out_path)
        if not data.get("benchmarks"):
            if allow_empty:
                return values, context
            sys.exit(f"report.py: {bench} produced no results (filter {bench_filter!r})")
        context = data.get("context", {})
        for b in data["benchmarks"]:
            if b.get("error_occurred"):
                print(f"  {b['name']}: {b.get('error_message')}", file=sys.stderr)
                continue
            name = re.sub(r"/(min_time:[0-9.]+|real_time|manual_time|iterations:\d+)", "", b["name"])
            entry = values.setdefault(name, {})
            for k, v in b.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    entry.setdefault(k, []).append(float(v))
    return values, context


def median(values, name, field):
    v = values.get(name, {}).get(field)
    return statistics.median(v) if v else None


def paired_ratio(values, ours_b, peer_b, field):
    """Median over rounds of (ours / peer) within the same round."""
    a = values.get(ours_b, {}).get(field, [])
    b = values.get(peer_b, {}).get(field, [])
    ratios = [x / y for x, y in zip(a, b) if y]
    return statistics.median(ratios) if ratios else None


def meets(ratio, op, target):
    """Does `ratio` meet the contract's target `op target` (op ">=" or "<=")?"""
    return ratio >= target if op == ">=" else ratio <= target


def build_rows(values, spec=None, skip_missing=False):
    """skip_missing: leave out the rows none of whose benchmarks ran (a filter)."""
    rows = []
    for case, metric, ours_b, peer, peer_b, field, op, target in (spec or rows_spec()):
        if skip_missing and ours_b not in values and (peer_b is None or peer_b not in values):
            continue
        ours = median(values, ours_b, field)
        theirs = median(values, peer_b, field) if peer_b else None
        if peer_b:
            ratio = paired_ratio(values, ours_b, peer_b, field)
        else:
            ratio = ours  # no peer: the figure itself is compared with the target
        if op is None or ratio is None:
            passed = ratio is not None or op is None
        else:
            passed = meets(ratio, op, target)
        rows.append({"case": case, "metric": metric, "shmring": ours, "peer": peer, "peer_value": theirs,
                     "ratio": ratio, "target": f"{op} {target:g}" if op else None,
                     "pass": bool(passed) if op and ratio is not None else (True if op is None else False),
                     "cpu_ns_per_op": median(values, ours_b, "cpu_ns_per_op"),
                     "peer_cpu_ns_per_op": median(values, peer_b, "cpu_ns_per_op") if peer_b else None})
    return rows


def fmt(v, metric=None):
    if v is None:
        return "-"
    if metric == "calls/msg":
        return f"{v:.2e}" if 0 < v < 0.001 else f"{v:.5f}"
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.2f} G"
    if a >= 1e6:
        return f"{v / 1e6:.2f} M"
    if a >= 1e4:
        return f"{v / 1e3:.1f} k"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def print_table(rows, out=sys.stdout):
    head = ["case", "metric", "shmring", "CPU ns/op", "peer", "peer value", "peer CPU ns/op", "ratio", "target",
            "verdict"]
    body = []
    for r in rows:
        verdict = "-" if r["target"] is None else ("PASS" if r["pass"] else "MISS")
        ratio = "-" if r["ratio"] is None else (f"{r['ratio']:.3g}" if r["peer"] else "")
        body.append([r["case"], r["metric"], fmt(r["shmring"], r["metric"]), fmt(r.get("cpu_ns_per_op")),
                     r["peer"] or "-", fmt(r["peer_value"], r["metric"]), fmt(r.get("peer_cpu_ns_per_op")), ratio,
                     r["target"] or "-", verdict])
    widths = [max(len(str(x[i])) for x in [head] + body) for i in range(len(head))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(head), file=out)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)
    for b in body:
        print(line(b), file=out)


def plot(values, path):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("report.py: gnuplot not installed; no plot", file=sys.stderr)
        return
    tmp = tempfile.mkdtemp()
    with open(os.path.join(tmp, "throughput.dat"), "w") as f:
        f.write("size " + " ".join(f'"{label}"' for label, _ in STREAMS) + "\n")
        for s in SIZES:
            cells = []
            for _, bench in STREAMS:
                v = median(values, f"{bench}/{s}", "items_per_second")
                cells.append(f"{v:.6g}" if v else "NaN")
            f.write(f"{s} " + " ".join(cells) + "\n")
    with open(os.path.join(tmp, "latency.dat"), "w") as f:
        for label, bench in PINGPONGS:
            v = median(values, bench, "real_time")
            if v:
                f.write(f'"{label}" {v / 1000.0:.6g}\n')
    terminal = "pngcairo size 1400,560 font 'sans,10'" if path.endswith(".png") else "svg size 1400,560"
    script = f"""
set terminal {terminal}
set output '{path}'
set multiplot layout 1,2 title 'shmring vs peers, producer and consumer in separate processes (medians)'
set title 'Throughput by message size'
set logscale xy
set xlabel 'message size (bytes)'
set ylabel 'messages per second'
set key bottom left noenhanced
set grid
plot for [i=2:{len(STREAMS) + 1}] '{tmp}/throughput.dat' using 1:i with linespoints lw 2 title columnhead(i)
unset logscale
set title 'Blocking ping-pong round trip (lower is better)'
set logscale y
set ylabel 'microseconds per round trip'
set xlabel ''
set style fill solid 0.7
set boxwidth 0.6
set xtics rotate by -30 noenhanced
set key off
plot '{tmp}/latency.dat' using 0:2:xtic(1) with boxes
unset multiplot
"""
    subprocess.run([gnuplot], input=script, text=True, check=True)
    shutil.rmtree(tmp)
    print(f"plot written to {path}", file=sys.stderr)


def machine_line(context):
    cpus = context.get("num_cpus", "?")
    mhz = context.get("mhz_per_cpu", "?")
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpus} CPUs ({model}, {mhz} MHz), kernel {os.uname().release}"


def python_rows(bench, rounds, quick):
    """The Python rows (perf/python_bench.py: shmring beside multiprocessing),
    run with the interpreter the package was built for, on the package the
    build staged (<build>/python). None if the build has no Python package."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(bench)))
    stage = os.path.join(build, "python")
    python = None
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("Python_EXECUTABLE:"):
                    python = line.split("=", 1)[1].strip()
    except OSError:
        pass
    if not python or not os.path.isdir(os.path.join(stage, "shmring")):
        print("report.py: no Python package in this build (SHMRING_BUILD_PYTHON): Python rows skipped",
              file=sys.stderr)
        return None
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        out_path = out.name
    env = dict(os.environ, PYTHONPATH=stage)
    print(f"running perf/python_bench.py with {python}: {rounds} rounds", file=sys.stderr)
    cmd = [python, os.path.join(HERE, "python_bench.py"), "--rounds", str(rounds), "--json", out_path]
    subprocess.run(cmd + (["--quick"] if quick else []), env=env, check=True, stdout=subprocess.DEVNULL)
    with open(out_path) as f:
        data = json.load(f)
    os.unlink(out_path)
    return data


def bridge_values(bench, args):
    """The bridge's rows' values and context (shmring_bridge_bench, its own
    nats-server), or None when the build has no bridge or nats-server is not on PATH."""
    path = args.bridge_bench or os.path.join(os.path.dirname(os.path.abspath(bench)), "shmring_bridge_bench")
    if not os.path.exists(path):
        print(f"report.py: {path} not built (no libnats-dev, or SHMRING_BUILD_BRIDGE=OFF): bridge rows skipped",
              file=sys.stderr)
        return None
    if not shutil.which("nats-server"):
        print("report.py: nats-server not on PATH: bridge rows skipped", file=sys.stderr)
        return None
    print(f"running {path}: {args.rounds} rounds, contestants in random order each round", file=sys.stderr)
    return run_rounds(path, args.rounds, None, args.filter, allow_empty=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", help="path to shmring_bench (default: build/perf/shmring_bench)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of the whole suite (default 5)")
    ap.add_argument("--min-time", default="0.1", help="minimum time of each benchmark run, seconds (default 0.1)")
    ap.add_argument("--filter", default=".", help="benchmark name regex (default: all)")
    ap.add_argument("--json", metavar="FILE", help="write the table rows as JSON")
    ap.add_argument("--plot", metavar="FILE", help="write a PNG or SVG plot (needs gnuplot)")
    ap.add_argument("--raw", metavar="FILE", help="write every benchmark's per-round values as JSON")
    ap.add_argument("--bridge-bench", metavar="PATH",
                    help="path to shmring_bridge_bench (default: next to --bench; absent: bridge rows skipped)")
    ap.add_argument("--no-bridge", action="store_true", help="skip the bridge rows (shmring_bridge_bench)")
    ap.add_argument("--no-python", action="store_true",
                    help="skip the Python rows (perf/python_bench.py, run when the build has the Python package)")
    args = ap.parse_args()
    if args.rounds < 1:
        sys.exit("report.py: --rounds must be at least 1")

    bench = find_bench(args.bench)
    print(f"running {bench}: {args.rounds} rounds, contestants in random order each round", file=sys.stderr)
    values, context = run_rounds(bench, args.rounds, args.min_time, args.filter, allow_empty=True)
    rows = build_rows(values, skip_missing=args.filter != ".")
    if not args.no_bridge:
        bridge = bridge_values(bench, args)
        if bridge:
            rows.extend(build_rows(bridge[0], bridge_rows_spec(), skip_missing=True))
            values.update(bridge[0])
            context = context or bridge[1]
    if not rows:
        sys.exit(f"report.py: no benchmark matched the filter {args.filter!r}")
    if not args.no_python and args.filter == ".":
        # A very short --min-time is a smoke run: the Python rows run a tenth of their messages too.
        py = python_rows(bench, args.rounds, quick=float(args.min_time) < 0.05)
        if py:
            rows.extend(py["rows"])
            values.update(py["values"])
    print(f"\nshmring vs peers: figures are medians of {args.rounds} rounds, ratios medians of per-round ratios; "
          f"{machine_line(context)}\n")
    print_table(rows)
    missed = [r for r in rows if r["target"] and not r["pass"]]
    print(f"\n{sum(1 for r in rows if r['target'] and r['pass'])} PASS, {len(missed)} MISS "
          f"of {sum(1 for r in rows if r['target'])} rows with a target")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
        print(f"rows written to {args.json}", file=sys.stderr)
    if args.raw:
        with open(args.raw, "w") as f:
            json.dump({"context": context, "values": values}, f, indent=1)
    if args.plot:
        plot(values, args.plot)


if __name__ == "__main__":
    main()
