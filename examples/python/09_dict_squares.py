"""Scenario 9: ten processes write into a shared dictionary.

Each process writes d[i] = i * i into a Manager().dict(); the parent reads
all ten entries.

The first import line is the only one to change to run this with Python's
own multiprocessing (from multiprocessing import Manager, Process).
"""
from shmring import Manager, Process


def f(d, i):
    d[i] = i * i


if __name__ == "__main__":
    with Manager() as manager:
        d = manager.dict()
        processes = [Process(target=f, args=(d, i)) for i in range(10)]
        for p in processes:
            p.start()
        for p in processes:
            p.join()
        items = sorted(d.items())
        print(items)
        assert items == [(i, i * i) for i in range(10)], items
        assert len(d) == 10
    assert all(p.exitcode == 0 for p in processes)
    print("ok")
