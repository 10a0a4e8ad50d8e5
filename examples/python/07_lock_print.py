"""Scenario 7: ten processes print under one Lock, one at a time.

Each process holds the lock while it prints two lines, so the two lines of
one process are never separated by another process's lines.

The first import line is the only one to change to run this with Python's
own multiprocessing (from multiprocessing import Lock, Process).
"""
from shmring import Lock, Process
import sys
import time


def f(lock, i):
    lock.acquire()
    try:
        print("hello world", i)
        sys.stdout.flush()
        time.sleep(0.01)
        print("goodbye world", i)
        sys.stdout.flush()
    finally:
        lock.release()


if __name__ == "__main__":
    lock = Lock()
    processes = [Process(target=f, args=(lock, num)) for num in range(10)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    assert all(p.exitcode == 0 for p in processes)
    print("ok")
