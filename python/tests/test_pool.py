"""Pool: the same assertions against multiprocessing.Pool and shmring.Pool;
and Process, current_process and friends, which shmring re-exports."""
import inspect
import multiprocessing
import os
import time

import pytest

import shmring
import helpers_mp as h
from conftest import T


@pytest.fixture
def pool(mp):
    p = mp.Pool(2)
    yield p
    p.terminate()
    p.join()


def test_apply(pool):
    assert pool.apply(h.square, (3,)) == 9
    assert pool.apply(h.kw_task, (1,), {"b": 2, "c": 3}) == 321
    assert pool.apply(h.getpid) != os.getpid()


def test_apply_async_callbacks(pool):
    for i in range(10):
        got, errors = [], []
        r = pool.apply_async(h.square, (i,), callback=got.append, error_callback=errors.append)
        assert r.get(timeout=T) == i * i
        assert r.ready() and r.successful()
        assert got == [i * i] and errors == []  # the callback ran before get() returned


def test_apply_async_error_callback(pool):
    for _ in range(10):
        got, errors = [], []
        r = pool.apply_async(h.fail, ("boom",), callback=got.append, error_callback=errors.append)
        with pytest.raises(ValueError, match="boom"):
            r.get(timeout=T)
        assert r.ready() and not r.successful()
        assert got == [] and len(errors) == 1 and isinstance(errors[0], ValueError)


def test_async_result_timeout(mp, pool):
    r = pool.apply_async(h.sleep_and_return, ("late", 1.0))
    with pytest.raises(ValueError):
        r.successful()  # not ready
    t0 = time.monotonic()
    with pytest.raises(mp.TimeoutError):
        r.get(timeout=0.1)
    assert time.monotonic() - t0 < 0.9  # gave up before the task ended
    assert not r.ready()
    r.wait(T)
    assert r.ready() and r.get(timeout=0) == "late"


def test_errors_are_reraised(pool):
    with pytest.raises(ValueError, match="boom"):
        pool.apply(h.fail, ("boom",))
    with pytest.raises(ValueError, match="bad item 3"):
        pool.starmap(h.fail_on, [(i, 3) for i in range(10)])
    with pytest.raises(ValueError, match="bad item"):
        pool.map(h.fail, ["bad item"] * 5)
    it = pool.imap(h.fail, ["a"])
    with pytest.raises(ValueError, match="a"):
        it.next(timeout=T)
    assert pool.apply(h.square, (4,)) == 16  # the pool goes on


def test_map(pool):
    assert pool.map(h.square, range(20)) == [x * x for x in range(20)]
    assert pool.map(h.square, range(20), chunksize=3) == [x * x for x in range(20)]
    assert pool.map(h.square, []) == []
    assert pool.map(h.square, iter(range(5))) == [0, 1, 4, 9, 16]


def test_map_async(pool):
    got = []
    r = pool.map_async(h.square, range(10), callback=got.append)
    assert r.get(timeout=T) == [x * x for x in range(10)]
    assert got == [[x * x for x in range(10)]]
    errors = []
    r = pool.map_async(h.fail, ["x", "y"], error_callback=errors.append)
    with pytest.raises(ValueError):
        r.get(timeout=T)
    assert len(errors) == 1 and isinstance(errors[0], ValueError)


def test_imap_and_imap_unordered(pool):
    it = pool.imap(h.square, range(30))
    assert [it.next(timeout=T) for _ in range(30)] == [x * x for x in range(30)]
    with pytest.raises(StopIteration):
        it.next(timeout=T)
    assert list(pool.imap(h.square, range(10), chunksize=4)) == [x * x for x in range(10)]
    assert sorted(pool.imap_unordered(h.square, range(30))) == [x * x for x in range(30)]
    assert sorted(pool.imap_unordered(h.square, range(30), 7)) == [x * x for x in range(30)]
    assert list(pool.imap_unordered(h.square, [])) == []
    assert list(pool.imap(h.square, [])) == []


def test_imap_next_timeout(mp, pool):
    it = pool.imap(h.slow_square, [3])
    with pytest.raises(mp.TimeoutError):
        it.next(timeout=0.1)
    assert it.next(timeout=T) == 9


def test_starmap(pool):
    args = [(2, 3), (3, 2), (10, 0)]
    assert pool.starmap(h.power, args) == [8, 9, 1]
    got = []
    r = pool.starmap_async(h.add, [(1, 2), (3, 4)], callback=got.append)
    assert r.get(timeout=T) == [3, 7]
    assert got == [[3, 7]]


def test_close_join(mp):
    p = mp.Pool(2)
    results = [p.apply_async(h.sleep_and_return, (i, 0.05)) for i in range(6)]
    with pytest.raises(ValueError):
        p.join()  # still running
    p.close()
    with pytest.raises(ValueError):
        p.apply_async(h.square, (1,))  # closed: no new tasks
    t0 = time.monotonic()
    p.join()
    assert time.monotonic() - t0 < T
    assert [r.get(timeout=0) for r in results] == list(range(6))  # queued tasks were done
    p.terminate()


def test_terminate_stops_running_tasks(mp):
    p = mp.Pool(2)
    p.apply_async(h.sleep_and_return, ("never", 30))
    p.apply_async(h.sleep_and_return, ("never", 30))
    time.sleep(0.2)
    t0 = time.monotonic()
    p.terminate()
    p.join()
    assert time.monotonic() - t0 < 5
    with pytest.raises(ValueError):
        p.apply(h.square, (1,))


def test_terminate_stops_a_task_in_one_long_c_call(mp):
    """Even a task that runs no Python signal handler until it returns (one
    C call, seconds long) ends at once: terminate() ends workers as
    multiprocessing does, by SIGTERM's default action."""
    started = shmring.Queue()
    p = mp.Pool(1)
    p.apply_async(h.report_and_sum, (started, 3 * 10**9))
    assert started.get(timeout=T) == "summing"
    time.sleep(0.2)  # inside sum() by now
    t0 = time.monotonic()
    p.terminate()
    p.join()
    assert time.monotonic() - t0 < 5


def test_context_manager(mp):
    with mp.Pool(2) as p:
        assert p.map(h.square, [1, 2, 3]) == [1, 4, 9]
        r = p.apply_async(h.sleep_and_return, ("x", 30))
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 5  # exit terminates, as multiprocessing's
    assert not r.ready()
    with pytest.raises(ValueError):
        p.apply(h.square, (1,))


def test_initializer(mp):
    with mp.Pool(2, initializer=h.initializer, initargs=("ready",)) as p:
        got = p.map(h.initialized, range(8), chunksize=1)
    assert all(v == "ready" for v, _ in got)
    assert all(pid != os.getpid() for _, pid in got)
    with pytest.raises(TypeError):
        mp.Pool(1, initializer=5)


def test_maxtasksperchild(mp):
    with mp.Pool(2, maxtasksperchild=1) as p:
        pids = p.map(h.getpid, range(6), chunksize=1)
        assert len(set(pids)) == 6  # each task in a fresh worker
        assert p.apply(h.square, (5,)) == 25
    with pytest.raises(ValueError):
        mp.Pool(1, maxtasksperchild=0)


def test_pool_arguments(mp):
    with pytest.raises(ValueError):
        mp.Pool(0)
    with mp.Pool() as p:  # processes=None: cpu_count()
        assert len(set(p.map(h.getpid, range(20), chunksize=1))) >= 1
    with mp.Pool(processes=1) as p:
        with pytest.raises(ValueError):
            p.imap(h.square, range(3), chunksize=0)


def test_tutorial_3_manager_queue_through_pool(mp):
    """A task writes a string letter by letter into a queue, a later one reads it back."""
    with mp.Manager() as m:
        q = m.Queue()
        with mp.Pool(2) as p:
            assert p.apply(h.write_letters, (q, "hello")) == 5
            assert p.apply(h.read_letters, (q, 5)) == "hello"


def test_many_tasks(pool):
    assert pool.map(h.square, range(5000)) == [x * x for x in range(5000)]
    assert sum(pool.imap_unordered(h.square, range(500), 10)) == sum(x * x for x in range(500))


# ---- the names shmring takes from multiprocessing ------------------------------------------

def test_process_functions_are_multiprocessing():
    for name in ("Process", "current_process", "active_children", "cpu_count", "set_start_method",
                 "get_start_method", "get_all_start_methods", "parent_process", "freeze_support",
                 "TimeoutError", "BufferTooShort", "AuthenticationError", "ProcessError"):
        assert getattr(shmring, name) is getattr(multiprocessing, name), name
    assert shmring.current_process() is multiprocessing.current_process()
    assert shmring.cpu_count() == multiprocessing.cpu_count()


def test_get_context(procs):
    for method in ("fork", "spawn", "forkserver"):
        ctx = shmring.get_context(method)
        assert ctx.get_start_method() == method
        assert ctx.Process is multiprocessing.get_context(method).Process
        assert isinstance(ctx.Queue(), shmring.Queue)
    ctx = shmring.get_context("fork")
    q = ctx.Queue()
    p = procs.start(h.put_one, q, "from child", ctx=ctx)
    assert q.get(timeout=T) == "from child"
    procs.join_ok(p)
    assert p.pid not in [c.pid for c in shmring.active_children()]


def test_active_children(mp, procs):
    ev = mp.Event()
    p = procs.start(h.wait_event, ev, mp.Queue())
    assert p in mp.active_children()
    ev.set()
    procs.join_ok(p)
    assert p not in mp.active_children()


@pytest.mark.parametrize("name", ["Queue", "SimpleQueue", "JoinableQueue", "Pipe", "Lock", "RLock", "Semaphore",
                                  "BoundedSemaphore", "Event", "Condition", "Barrier", "Value", "Array",
                                  "RawValue", "RawArray", "Pool", "Manager"])
def test_signatures_match(name):
    """Every parameter of multiprocessing's factory is shmring's too, with the
    same kind and default (shmring adds keyword-only ones: name=...)."""
    mine = inspect.signature(getattr(shmring, name)).parameters
    theirs = inspect.signature(getattr(multiprocessing, name)).parameters
    for pname, param in theirs.items():
        assert pname in mine, "%s lacks the parameter %r" % (name, pname)
        other = mine[pname]
        assert other.default == param.default, (name, pname, other.default, param.default)
        assert other.kind == param.kind or (
            param.kind == param.POSITIONAL_OR_KEYWORD and other.kind == param.POSITIONAL_OR_KEYWORD), (name, pname)
    extra = [p for p in mine.values() if p.name not in theirs]
    assert all(p.kind == p.VAR_KEYWORD or p.default is not p.empty for p in extra), (name, extra)
