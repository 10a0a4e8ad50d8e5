"""Scenario 8: shared memory with Value and Array.

Ten processes each add i * i to a shared Value('d') (under its lock, so no
update is lost) and write a[i] = -i into a shared Array('i', range(10)); the
parent reads the results.

The first import line is the only one to change to run this with Python's
own multiprocessing (from multiprocessing import Array, Process, Value).
"""
from shmring import Array, Process, Value


def f(n, a, i):
    with n.get_lock():
        n.value += i * i
    a[i] = -i


if __name__ == "__main__":
    num = Value("d", 0.0)
    arr = Array("i", range(10))

    processes = [Process(target=f, args=(num, arr, i)) for i in range(10)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()

    print(num.value)
    print(arr[:])
    assert num.value == 285.0, num.value  # the sum of i * i for i < 10
    assert arr[:] == [-i for i in range(10)], arr[:]
    assert all(p.exitcode == 0 for p in processes)
    print("ok")
