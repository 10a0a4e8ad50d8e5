#!/usr/bin/env python3
"""Python peer for shmring's performance suite: multiprocessing.Queue.

Runs Python's multiprocessing.Queue the way the tutorials do: a producer
multiprocessing.Process puts N bytes objects of the given size (one
b'x' * size object, created once and put N times) and the parent process
gets them all with a blocking get(). The producer waits on a
multiprocessing.Event that the parent sets once it is ready to consume; the
clock runs from that set() (the first put being allowed) to the return of
the last get().

Prints exactly one line of JSON on stdout:
    {"messages": N, "size": S, "seconds": T, "messages_per_second": R}

Uses the 'fork' start method explicitly (Linux).
"""

import argparse
import json
import multiprocessing
import os
import sys
import threading
import time


def producer(queue, start, messages, size):
    payload = b"x" * size
    start.wait()
    for _ in range(messages):
        queue.put(payload)


def watch_producer(proc, done):
    """Fail instead of blocking forever if the producer dies early."""
    while not done.wait(0.5):
        code = proc.exitcode
        if code is not None and code != 0:
            print("python_mp_queue: producer exited with code %d" % code,
                  file=sys.stderr, flush=True)
            os._exit(1)


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Time N messages of SIZE bytes through a "
                    "multiprocessing.Queue from a producer process to the "
                    "parent; print one JSON line.")
    parser.add_argument("--messages", type=positive_int, default=100000,
                        metavar="N", help="messages to send (default 100000)")
    parser.add_argument("--size", type=non_negative_int, default=64,
                        metavar="S", help="bytes per message (default 64)")
    args = parser.parse_args(argv)

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start = ctx.Event()
    proc = ctx.Process(target=producer,
                       args=(queue, start, args.messages, args.size))
    proc.start()

    done = threading.Event()
    watchdog = threading.Thread(target=watch_producer, args=(proc, done),
                                daemon=True)
    watchdog.start()

    get = queue.get
    last = None
    t0 = time.perf_counter()
    start.set()
    for _ in range(args.messages):
        last = get()
    t1 = time.perf_counter()

    done.set()
    proc.join()
    watchdog.join()
    if proc.exitcode != 0:
        print("python_mp_queue: producer exited with code %d" % proc.exitcode,
              file=sys.stderr)
        return 1
    if not isinstance(last, bytes) or len(last) != args.size:
        print("python_mp_queue: received a malformed message",
              file=sys.stderr)
        return 1

    seconds = t1 - t0
    print(json.dumps({
        "messages": args.messages,
        "size": args.size,
        "seconds": seconds,
        "messages_per_second": args.messages / seconds if seconds > 0 else 0.0,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
