"""Scenario 5: ten processes put into one queue; the parent gets ten.

The first import line is the only one to change to run this with Python's
own multiprocessing (from multiprocessing import Process, Queue).
"""
from shmring import Process, Queue


def f(q, i):
    q.put(["hello" + str(i)])


if __name__ == "__main__":
    q = Queue()
    processes = [Process(target=f, args=(q, i)) for i in range(10)]
    for p in processes:
        p.start()
    results = [q.get(timeout=30) for _ in range(10)]
    for p in processes:
        p.join()
    for item in results:
        print(item)
    assert sorted(results) == sorted(["hello" + str(i)] for i in range(10)), results
    assert all(p.exitcode == 0 for p in processes)
    print("ok: ten messages from ten processes")
