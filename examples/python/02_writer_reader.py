"""Scenario 2: a writer and a reader process sharing one queue.

The parent creates a queue and two children: the writer puts A, B and C with
random pauses; once the writer has been joined, the reader drains everything
the queue holds.

The first import line is the only one to change to run this with Python's
own multiprocessing (from multiprocessing import Process, Queue).
"""
from shmring import Process, Queue
import random
import time


def writer(q):
    for item in ["A", "B", "C"]:
        time.sleep(random.random() * 0.2)
        q.put(item)
        print("writer put", item)


def reader(q):
    items = []
    while not q.empty():
        item = q.get()
        print("reader got", item)
        items.append(item)
    assert items == ["A", "B", "C"], items


if __name__ == "__main__":
    q = Queue()
    w = Process(target=writer, args=(q,))
    w.start()
    w.join()

    r = Process(target=reader, args=(q,))
    r.start()
    r.join()

    assert w.exitcode == 0 and r.exitcode == 0, (w.exitcode, r.exitcode)
    print("ok: the reader drained A B C")
