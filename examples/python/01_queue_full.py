"""Scenario 1: a bounded Queue(3).

Three puts succeed and full() turns true; a fourth put with a 2-second
timeout raises queue.Full after 2 s; put_nowait raises queue.Full at once;
checking full() before put_nowait is the polite way. A reader process checks
empty() and drains the queue with get_nowait(), in order.

The first import line is the only one to change to run this with Python's
own multiprocessing (from multiprocessing import Process, Queue).
"""
from shmring import Process, Queue
import queue
import sys
import time


def reader(q):
    items = []
    while not q.empty():
        item = q.get_nowait()
        print("reader got", item)
        items.append(item)
    assert items == [1, 2, 3], items


if __name__ == "__main__":
    q = Queue(3)
    for item in (1, 2, 3):
        q.put(item)
        print("put", item)
    print("full:", q.full())
    assert q.full()

    start = time.monotonic()
    try:
        q.put(4, timeout=2)
        sys.exit("put(4, timeout=2) should have raised queue.Full")
    except queue.Full:
        waited = time.monotonic() - start
        print("put(4, timeout=2) raised queue.Full after %.1f s" % waited)
    assert 1.99 <= waited < 5, waited

    start = time.monotonic()
    try:
        q.put_nowait(4)
        sys.exit("put_nowait(4) should have raised queue.Full")
    except queue.Full:
        waited = time.monotonic() - start
        print("put_nowait(4) raised queue.Full at once")
    assert waited < 0.5, waited

    # The polite way: ask first.
    if q.full():
        print("the queue is full: not putting 4")
    else:
        q.put_nowait(4)

    r = Process(target=reader, args=(q,))
    r.start()
    r.join()
    assert r.exitcode == 0, "the reader failed"
    print("ok")
