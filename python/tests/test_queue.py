"""Queue, SimpleQueue and JoinableQueue: the same assertions against
multiprocessing and shmring (fixture `mp`)."""
import queue
import threading
import time

import pytest

import helpers_mp as h
from conftest import T, get_while_alive, settle, wait_until


# ---- Queue ------------------------------------------------------------------------------

def test_put_get_fifo_with_keywords(mp):
    q = mp.Queue()
    items = [1, "two", b"three", [4, 4.0], {"five": (5,)}, None, b"", b"\x80\x04pickle-like bytes"]
    for it in items:
        q.put(obj=it, block=True, timeout=None)  # multiprocessing's parameter names
    got = [q.get(block=True, timeout=T) for _ in items]
    assert got == items
    assert type(got[2]) is bytes and type(got[7]) is bytes


def test_defaults_unbounded(mp):
    q = mp.Queue()
    for i in range(1000):
        q.put_nowait(i)  # maxsize=0: no limit on the count
    assert not q.full()
    assert [q.get(timeout=T) for _ in range(1000)] == list(range(1000))


def test_tutorial_1_full_queue(mp):
    """A Queue(3): three puts, full() true, a fourth put with a timeout fails
    with queue.Full after that timeout, put_nowait at once; the reader
    drains in order with get_nowait."""
    q = mp.Queue(3)
    assert q.empty() and not q.full()
    for x in ("A", "B", "C"):
        q.put(x)
    assert q.full()
    assert q.qsize() == 3

    t0 = time.monotonic()
    with pytest.raises(queue.Full):
        q.put("D", timeout=0.3)
    elapsed = time.monotonic() - t0
    assert 0.28 <= elapsed < 2.0, elapsed

    t0 = time.monotonic()
    with pytest.raises(queue.Full):
        q.put_nowait("D")
    assert time.monotonic() - t0 < 0.25  # at once, not after the 0.3 s timeout
    with pytest.raises(queue.Full):
        q.put("D", block=False)
    with pytest.raises(queue.Full):
        q.put("D", True, 0)  # a zero timeout: at once

    # The polite way: check full() first.
    if not q.full():
        q.put_nowait("D")
    assert q.qsize() == 3

    settle(mp)
    got = []
    while not q.empty():
        got.append(q.get_nowait())
    assert got == ["A", "B", "C"]
    assert q.empty() and not q.full() and q.qsize() == 0


def test_get_empty_raises(mp):
    q = mp.Queue()
    t0 = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(False)
    assert time.monotonic() - t0 < 0.25  # at once
    t0 = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.3)
    assert 0.28 <= time.monotonic() - t0 < 2.0


def test_full_put_waits_for_room(mp, procs):
    """A blocked put returns as soon as another process makes room."""
    q = mp.Queue(1)
    q.put("first")
    out = mp.Queue()
    p = procs.start(h.get_n_put, q, out, 2)
    t0 = time.monotonic()
    q.put("second", timeout=T)
    assert time.monotonic() - t0 < T
    assert out.get(timeout=T) == ["first", "second"]
    procs.join_ok(p)


def test_close_join_thread_cancel_join_thread(mp):
    q = mp.Queue()
    with pytest.raises(AssertionError):
        q.join_thread()  # before close()
    q.put("x")
    q.cancel_join_thread()
    q.close()
    q.join_thread()
    with pytest.raises(ValueError):
        q.put("y")
    q.close()  # twice: fine


def test_child_puts_parent_gets(mp, procs):
    q = mp.Queue()
    items = [("item", i, "x" * i) for i in range(100)]
    p = procs.start(h.put_items, q, items)
    got = [q.get(timeout=T) for _ in items]
    assert got == items
    procs.join_ok(p)


def test_parent_puts_child_gets(mp, procs):
    q, out = mp.Queue(), mp.Queue()
    p = procs.start(h.get_n_put, q, out, 50)
    for i in range(50):
        q.put(i)
    assert out.get(timeout=T) == list(range(50))
    procs.join_ok(p)


def test_tutorial_2_writer_then_reader(mp, procs):
    """A writer puts A, B, C with random pauses; once it is joined, a reader drains everything."""
    q, out = mp.Queue(), mp.Queue()
    w = procs.start(h.writer_random_pauses, q, ["A", "B", "C"])
    procs.join_ok(w)
    r = procs.start(h.get_n_put, q, out, 3)
    assert out.get(timeout=T) == ["A", "B", "C"]
    procs.join_ok(r)


def test_tutorial_5_ten_processes_put(mp, procs):
    q = mp.Queue()
    ps = [procs.start(h.put_one, q, ["hello" + str(i)]) for i in range(10)]
    got = [q.get(timeout=T) for _ in range(10)]
    procs.join_ok(*ps)
    assert sorted(got) == sorted([["hello" + str(i)] for i in range(10)])


def test_many_producers_many_consumers(mp, procs):
    """Two producers and two consumers: every item once, each producer's items in order."""
    q, out = mp.Queue(), mp.Queue()
    n = 300
    producers = [procs.start(h.put_items, q, [(k, i) for i in range(n)]) for k in range(2)]
    consumers = [procs.start(h.get_n_put, q, out, n) for _ in range(2)]
    results = [out.get(timeout=T) for _ in range(2)]
    procs.join_ok(*producers, *consumers)
    everything = sorted(results[0] + results[1])
    assert everything == sorted([(k, i) for k in range(2) for i in range(n)])
    for got in results:
        for k in range(2):
            mine = [i for (kk, i) in got if kk == k]
            assert mine == sorted(mine)


def test_large_items(mp, procs):
    """Items of a few hundred KiB through a default Queue, as multiprocessing carries them (any size)."""
    q = mp.Queue()
    big = [bytes(range(256)) * 1024, list(range(30000))]  # 256 KiB of bytes, ~150 KiB pickled
    p = procs.start(h.put_items, q, big)
    assert get_while_alive(q, p) == big[0]
    assert get_while_alive(q, p) == big[1]
    procs.join_ok(p)


def test_qsize_empty_full_when_quiescent(mp, procs):
    q = mp.Queue(5)
    p = procs.start(h.put_items, q, [1, 2, 3])
    procs.join_ok(p)
    settle(mp)
    assert q.qsize() == 3 and not q.empty() and not q.full()
    q.put(4)
    q.put(5)
    assert q.full()
    assert [q.get(timeout=T) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert q.empty()


# ---- SimpleQueue ----------------------------------------------------------------------------

def test_simple_queue(mp, procs):
    q = mp.SimpleQueue()
    assert q.empty()
    q.put("a")
    q.put(obj=["b"])
    settle(mp)
    assert not q.empty()
    assert q.get() == "a"  # SimpleQueue.get has no timeout: only called when not empty()
    assert wait_until(lambda: not q.empty())
    assert q.get() == ["b"]
    assert q.empty()

    p = procs.start(h.put_items, q, list(range(20)))
    procs.join_ok(p)
    got = []
    for _ in range(20):
        assert wait_until(lambda: not q.empty())
        got.append(q.get())
    assert got == list(range(20))
    assert q.empty()
    q.close()


# ---- JoinableQueue -----------------------------------------------------------------------

def test_joinable_task_done_and_join(mp):
    q = mp.JoinableQueue()
    for i in range(3):
        q.put(i)
    for _ in range(3):
        q.get(timeout=T)
    for _ in range(3):
        q.task_done()
    with pytest.raises(ValueError):
        q.task_done()  # one more than was put

    # join() returns at once now that every item is done.
    done = threading.Event()
    t = threading.Thread(target=lambda: (q.join(), done.set()), daemon=True)
    t.start()
    assert done.wait(T)


def test_joinable_join_waits_for_workers(mp, procs):
    """join() in the parent returns once a child has marked every item done, not before."""
    q, out = mp.JoinableQueue(), mp.Queue()
    for i in range(10):
        q.put(i)
    returned = threading.Event()
    t = threading.Thread(target=lambda: (q.join(), returned.set()), daemon=True)
    t.start()
    time.sleep(0.1)
    assert not returned.is_set()  # nothing done yet
    p = procs.start(h.joinable_worker, q, out, 10)
    assert returned.wait(T)
    assert sorted(out.get(timeout=T) for _ in range(10)) == [i * 2 for i in range(10)]
    procs.join_ok(p)


def test_joinable_join_from_another_process(mp, procs):
    """A child joins; the parent does the work: the child's join returns after the last task_done."""
    q, out = mp.JoinableQueue(), mp.Queue()
    for i in range(3):
        q.put(i)
    p = procs.start(h.joinable_joiner, q, out)
    for _ in range(3):
        q.get(timeout=T)
    time.sleep(0.2)
    with pytest.raises(queue.Empty):
        out.get(timeout=0.2)  # 3 items not done: the child still waits
    last_done = time.monotonic()
    for _ in range(3):
        q.task_done()
    tag, when = out.get(timeout=T)
    assert tag == "joined" and when >= last_done
    procs.join_ok(p)
