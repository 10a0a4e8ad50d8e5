"""What a newcomer's review of the package found, each pinned by a test:
threads sharing a Dict, an "unbounded" Queue that filled, large Pool
arguments and results, imap's order after an error and with an endless
input, errors that cannot be unpickled, remote tracebacks, a Condition over
a given Lock in a spawned child, failed List rewrites, the Manager's Value."""
import collections
import ctypes
import itertools
import os
import signal
import subprocess
import sys
import threading

import pytest

import helpers_mp as h
import shmring
from conftest import T, wait_until

Point = collections.namedtuple("Point", "x y")


def test_threads_reading_one_dict_each_get_their_own_values():
    d = shmring.Dict()
    d["a"] = Point(1, 1)
    d["b"] = Point(2, 2)
    errors = []

    def reader(key, want):
        try:
            for _ in range(20000):
                got = d[key]
                if got != want:
                    errors.append((key, got))
                    return
        except Exception as e:  # noqa: BLE001 - any error is the failure
            errors.append((key, repr(e)))

    threads = [threading.Thread(target=reader, args=(k, v)) for k, v in (("a", Point(1, 1)), ("b", Point(2, 2)))]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(T)
    finally:
        sys.setswitchinterval(old)
    assert errors == []


def test_an_unbounded_queue_takes_a_million_items_from_one_producer_without_waiting():
    q = shmring.Queue()
    for i in range(10 ** 6):
        q.put_nowait((i, i))
    assert q.qsize() == 10 ** 6
    assert q.get_nowait() == (0, 0)


def test_pool_takes_a_2_mb_argument_and_returns_a_6_mb_result():
    with shmring.Pool(2) as pool:
        assert pool.map(h.length, [b"a" * (2 << 20)] * 2) == [2 << 20] * 2
        assert len(pool.apply(h.big_bytes, (6 << 20,))) == 6 << 20


def test_imap_yields_an_error_in_its_place_and_goes_on():
    with shmring.Pool(2) as pool:
        out = []
        it = pool.imap(h.fail_on_two, range(5), 1)
        for _ in range(5):
            try:
                out.append(it.next(timeout=T))
            except ValueError:
                out.append("error")
        with pytest.raises(StopIteration):
            it.next(timeout=T)
    assert out == [0, 1, "error", 3, 4]


def test_imap_of_an_endless_generator_yields_before_the_input_ends():
    with shmring.Pool(2) as pool:
        it = pool.imap(h.square, itertools.count())
        assert [it.next(timeout=T) for _ in range(3)] == [0, 1, 4]


def test_an_error_that_cannot_be_unpickled_fails_its_task_and_the_pool_goes_on():
    with shmring.Pool(1) as pool:
        with pytest.raises(RuntimeError, match="could not be unpickled"):
            pool.apply_async(h.raise_two_arg_error).get(timeout=T)
        assert pool.apply_async(h.square, (3,)).get(timeout=T) == 9


def test_a_task_error_carries_the_workers_traceback():
    with shmring.Pool(1) as pool:
        with pytest.raises(ValueError) as info:
            pool.apply(h.fail, ("boom",))
    assert type(info.value.__cause__).__name__ == "RemoteTraceback"
    assert "fail" in str(info.value.__cause__)


def test_a_condition_over_a_given_lock_works_in_a_spawned_child():
    ctx = shmring.get_context("spawn")
    lock = shmring.Lock()
    cond = shmring.Condition(lock)
    flag = shmring.Value("i", 0)
    with cond:
        p = ctx.Process(target=h.condition_notify_child, args=(cond, flag))
        p.start()
        assert cond.wait_for(lambda: flag.value == 1, timeout=T)
    p.join(T)
    assert p.exitcode == 0


def test_a_list_rewrite_that_fails_leaves_the_list_as_it_was():
    lst = shmring.List([1, 2, 3], capacity=4, max_value=32)
    with pytest.raises(ValueError):
        lst[0:1] = ["x" * 100]
    assert lst == [1, 2, 3]
    with pytest.raises(MemoryError):
        lst[:] = list(range(10))
    assert lst == [1, 2, 3]
    with pytest.raises(TypeError, match="list indices must be integers"):
        lst["a"]


def test_the_managers_value_holds_any_object_with_get_and_set():
    with shmring.Manager() as m:
        v = m.Value(ctypes.c_char_p, "hello")
        assert v.value == "hello" and v.get() == "hello"
        v.set({"any": "object"})
        assert v.value == {"any": "object"}


def _dicts_made_by(pid):
    return [f for f in os.listdir("/dev/shm") if f.startswith("shmring-py-dict-%d-" % pid)]


def test_objects_made_in_pool_workers_are_removed_by_terminate():
    """terminate() kills the workers (no exit code runs in them); the pool
    removes what they made without a name once they have exited."""
    with shmring.Pool(2, initializer=h.make_dict_in_worker) as p:
        pids = set(p.map(h.getpid, range(8), chunksize=1))
        assert all(_dicts_made_by(pid) for pid in pids)
    assert [f for pid in pids for f in _dicts_made_by(pid)] == []


def test_objects_made_by_a_pool_worker_that_died_are_removed():
    with shmring.Pool(1, initializer=h.make_dict_in_worker) as p:
        pid = p.apply(h.getpid)
        assert _dicts_made_by(pid)
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: not _dicts_made_by(pid))  # the pool saw it die
        assert p.apply(h.square, (3,)) == 9  # and replaced it


def test_iterating_a_char_array_gives_bytes_of_one():
    assert list(shmring.Array("c", b"abc")) == [b"a", b"b", b"c"]


def test_objects_made_in_pool_workers_are_removed_when_the_with_block_ends(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(
        "import os, shmring, helpers_mp as h\n"
        "if __name__ == '__main__':\n"
        "    with shmring.Pool(2, initializer=h.make_dict_in_worker) as p:\n"
        "        pids = [c.pid for c in shmring.active_children()]\n"
        "        p.map(h.square, range(4))\n"
        "    print(' '.join(map(str, pids)))\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True,
                         env=dict(os.environ))
    pids = out.stdout.split()
    assert pids
    left = [f for f in os.listdir("/dev/shm") if any(f.startswith("shmring-py-dict-%s-" % p) for p in pids)]
    assert left == []
