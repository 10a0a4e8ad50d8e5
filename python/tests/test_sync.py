"""Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier: the
same assertions against multiprocessing and shmring."""
import queue
import threading
import time

import pytest

import helpers_mp as h
from conftest import T, wait_until


# ---- Lock ---------------------------------------------------------------------------------

def test_lock_basics(mp):
    lock = mp.Lock()
    assert lock.acquire() is True
    assert lock.acquire(False) is False
    assert lock.acquire(block=False) is False
    t0 = time.monotonic()
    assert lock.acquire(timeout=0.3) is False
    assert 0.28 <= time.monotonic() - t0 < 2.0
    lock.release()
    with pytest.raises(ValueError):
        lock.release()  # not held
    with lock:
        assert lock.acquire(False) is False
    assert lock.acquire(block=True, timeout=0) is True
    lock.release()


def test_lock_excludes_another_process(mp, procs):
    lock, held, out = mp.Lock(), mp.Event(), mp.Queue()
    p = procs.start(h.hold_lock, lock, held, 0.5)
    assert held.wait(T)
    assert lock.acquire(False) is False
    q = procs.start(h.try_acquire, lock, out, 0.1)
    ok, waited = out.get(timeout=T)
    assert ok is False and waited >= 0.09
    t0 = time.monotonic()
    assert lock.acquire(timeout=T)  # the holder releases after 0.5 s
    assert time.monotonic() - t0 < T
    lock.release()
    procs.join_ok(p, q)


def test_lock_released_by_another_process(mp, procs):
    """multiprocessing.Lock is a semaphore: any process may release it."""
    lock, out = mp.Lock(), mp.Queue()
    lock.acquire()
    p = procs.start(h.try_acquire, lock, out, T)
    time.sleep(0.1)
    lock.release()
    ok, _ = out.get(timeout=T)
    assert ok is True
    procs.join_ok(p)


def test_lock_counter_under_contention(mp, procs):
    lock = mp.Lock()
    counter = mp.Value("i", 0, lock=False)
    ps = [procs.start(h.locked_increments, lock, counter, 300) for _ in range(3)]
    procs.join_ok(*ps, timeout=30)
    assert counter.value == 900


def test_tutorial_7_ten_processes_print_under_lock(mp, procs, capfd):
    lock, out = mp.Lock(), mp.Queue()
    ps = [procs.start(h.lock_intervals, lock, out, i) for i in range(10)]
    intervals = sorted(out.get(timeout=T) for _ in range(10))
    procs.join_ok(*ps)
    for (s0, e0), (s1, e1) in zip(intervals, intervals[1:]):
        assert e0 <= s1, "two processes held the lock at once"
    printed = capfd.readouterr().out.splitlines()
    assert sorted(printed) == sorted("hello world %d" % i for i in range(10))


# ---- RLock --------------------------------------------------------------------------------

def test_rlock(mp, procs):
    r = mp.RLock()
    with pytest.raises(AssertionError):
        r.release()  # not owned
    assert r.acquire()
    assert r.acquire()
    assert r.acquire(False)
    with r:
        pass
    out = mp.Queue()
    p = procs.start(h.try_acquire, r, out, 0.1)
    ok, _ = out.get(timeout=T)
    assert ok is False  # another process cannot take it
    procs.join_ok(p)
    r.release()
    r.release()
    r.release()
    with pytest.raises(AssertionError):
        r.release()
    p = procs.start(h.try_acquire, r, out, T)
    ok, _ = out.get(timeout=T)
    assert ok is True
    procs.join_ok(p)


def test_rlock_not_owned_by_another_thread(mp):
    r = mp.RLock()
    r.acquire()
    errors = []

    def other():
        try:
            r.release()
        except AssertionError as e:
            errors.append(e)
        errors.append(r.acquire(timeout=0.05))

    t = threading.Thread(target=other)
    t.start()
    t.join(T)
    assert isinstance(errors[0], AssertionError) and errors[1] is False
    r.release()


# ---- Semaphore, BoundedSemaphore -----------------------------------------------------------

def test_semaphore(mp):
    s = mp.Semaphore(2)
    assert s.get_value() == 2
    assert s.acquire() and s.acquire()
    assert s.acquire(False) is False
    t0 = time.monotonic()
    assert s.acquire(timeout=0.2) is False
    assert time.monotonic() - t0 >= 0.18
    s.release()
    assert s.get_value() == 1
    with s:
        assert s.get_value() == 0
    s.release()
    s.release()  # beyond the initial value: fine for a Semaphore
    assert s.get_value() == 3
    assert mp.Semaphore().get_value() == 1  # value=1 by default
    assert mp.Semaphore(0).acquire(timeout=0) is False
    with pytest.raises((ValueError, OSError)):  # multiprocessing: OSError(EINVAL)
        mp.Semaphore(-1)


def test_bounded_semaphore(mp):
    b = mp.BoundedSemaphore(2)
    with pytest.raises(ValueError):
        b.release()  # above its initial value
    with b:
        assert b.acquire()
        b.release()
    assert b.get_value() == 2
    with pytest.raises(ValueError):
        b.release()


def test_semaphore_limits_processes(mp, procs):
    sem = mp.Semaphore(2)
    inside = mp.Value("i", 0, lock=False)
    peak = mp.Value("i", 0, lock=False)
    guard = mp.Lock()
    ps = [procs.start(h.semaphore_user, sem, inside, peak, guard, 20) for _ in range(4)]
    procs.join_ok(*ps, timeout=30)
    assert 1 <= peak.value <= 2
    assert inside.value == 0
    assert sem.get_value() == 2


def test_semaphore_release_wakes_other_process(mp, procs):
    sem, out = mp.Semaphore(0), mp.Queue()
    p = procs.start(h.try_acquire, sem, out, T)
    time.sleep(0.1)
    sem.release()
    ok, waited = out.get(timeout=T)
    assert ok is True and waited < T
    procs.join_ok(p)


# ---- Event --------------------------------------------------------------------------------

def test_event(mp):
    e = mp.Event()
    assert not e.is_set()
    t0 = time.monotonic()
    assert e.wait(0.2) is False
    assert time.monotonic() - t0 >= 0.18
    assert e.wait(0) is False
    e.set()
    assert e.is_set()
    assert e.wait() is True
    assert e.wait(0) is True
    e.clear()
    assert not e.is_set()


def test_event_across_processes(mp, procs):
    e, out = mp.Event(), mp.Queue()
    ps = [procs.start(h.wait_event, e, out) for _ in range(3)]
    time.sleep(0.1)
    with pytest.raises(queue.Empty):
        out.get(timeout=0.1)  # nobody woke before set()
    set_at = time.monotonic()
    e.set()
    for _ in range(3):
        tag, ok, when = out.get(timeout=T)
        assert tag == "woke" and ok is True and when >= set_at
    procs.join_ok(*ps)

    e.clear()
    p = procs.start(h.set_event_after, e, 0.2)
    assert e.wait(T) is True
    procs.join_ok(p)


# ---- Condition --------------------------------------------------------------------------------

def test_condition_basics(mp):
    c = mp.Condition()
    with pytest.raises(AssertionError):
        c.notify()  # lock not held
    with pytest.raises(AssertionError):
        c.wait(0.01)
    with c:
        t0 = time.monotonic()
        assert c.wait(0.2) is False
        assert time.monotonic() - t0 >= 0.18
        c.notify()  # nobody waits: fine
        c.notify_all()
        assert c.wait_for(lambda: 5) == 5
        assert c.wait_for(lambda: False, timeout=0.1) is False
    assert c.acquire() and c.acquire()  # its own lock is an RLock
    c.release()
    c.release()


def test_condition_with_given_lock(mp):
    lock = mp.Lock()
    c = mp.Condition(lock)
    with c:
        assert lock.acquire(False) is False  # the condition holds the lock
        assert c.wait(0.05) is False
    assert lock.acquire(False) is True
    lock.release()


def test_condition_notify_and_notify_all_across_processes(mp, procs):
    cond, out = mp.Condition(), mp.Queue()
    waiting = mp.Value("i", 0, lock=False)
    ps = [procs.start(h.condition_waiter, cond, waiting, out) for _ in range(2)]
    assert wait_until(lambda: waiting.value == 2)
    with cond:  # both incremented under the lock, so both wait now
        cond.notify()
    assert out.get(timeout=T) is True
    with pytest.raises(queue.Empty):
        out.get(timeout=0.3)  # notify() woke one
    with cond:
        cond.notify_all()
    assert out.get(timeout=T) is True
    procs.join_ok(*ps)

    waiting.value = 0
    ps = [procs.start(h.condition_waiter, cond, waiting, out) for _ in range(3)]
    assert wait_until(lambda: waiting.value == 3)
    with cond:
        cond.notify_all()
    assert [out.get(timeout=T) for _ in range(3)] == [True] * 3
    procs.join_ok(*ps)


def test_condition_wait_for_across_processes(mp, procs):
    cond, out = mp.Condition(), mp.Queue()
    flag = mp.Value("i", 0, lock=False)
    p = procs.start(h.condition_wait_for, cond, flag, out)
    q = procs.start(h.condition_set_flag, cond, flag, 0.2)
    assert out.get(timeout=T) == (True, 1)
    procs.join_ok(p, q)


# ---- Barrier ----------------------------------------------------------------------------------

def test_barrier_across_processes(mp, procs):
    b, out = mp.Barrier(3), mp.Queue()
    assert b.parties == 3 and b.n_waiting == 0 and not b.broken
    ps = [procs.start(h.barrier_wait, b, out) for _ in range(2)]
    mine = b.wait(T)
    got = [out.get(timeout=T) for _ in range(2)]
    assert all(tag == "passed" for tag, _ in got)
    assert sorted([mine] + [i for _, i in got]) == [0, 1, 2]
    procs.join_ok(*ps)
    # reusable
    ps = [procs.start(h.barrier_wait, b, out) for _ in range(2)]
    assert b.wait(T) in (0, 1, 2)
    assert [out.get(timeout=T)[0] for _ in range(2)] == ["passed", "passed"]
    procs.join_ok(*ps)


def test_barrier_timeout_breaks_it(mp):
    b = mp.Barrier(2)
    t0 = time.monotonic()
    with pytest.raises(threading.BrokenBarrierError):
        b.wait(timeout=0.2)
    assert 0.18 <= time.monotonic() - t0 < 2.0
    assert b.broken
    with pytest.raises(threading.BrokenBarrierError):
        b.wait(0.1)  # stays broken
    b.reset()
    assert not b.broken


def test_barrier_default_timeout(mp):
    b = mp.Barrier(2, timeout=0.2)
    t0 = time.monotonic()
    with pytest.raises(threading.BrokenBarrierError):
        b.wait()
    assert time.monotonic() - t0 < 2.0


def test_barrier_abort_wakes_waiter_in_other_process(mp, procs):
    b, out = mp.Barrier(2), mp.Queue()
    p = procs.start(h.barrier_wait, b, out)
    assert wait_until(lambda: b.n_waiting == 1)
    b.abort()
    assert out.get(timeout=T) == ("broken", None)
    assert b.broken
    with pytest.raises(threading.BrokenBarrierError):
        b.wait(0.1)
    procs.join_ok(p)


def test_barrier_reset_wakes_waiter(mp, procs):
    b, out = mp.Barrier(2), mp.Queue()
    p = procs.start(h.barrier_wait, b, out)
    assert wait_until(lambda: b.n_waiting == 1)
    b.reset()
    assert out.get(timeout=T) == ("broken", None)
    assert not b.broken  # reset leaves it usable
    procs.join_ok(p)
