"""Event loops: Queue.fileno() and Connection.fileno() are descriptors that
are readable when a get/recv would not block, so shmring objects wait beside
sockets in selectors, asyncio and multiprocessing.connection.wait — with
producers in other processes (forked children and a separately started C++
executable), and a killed peer seen as EOF."""
import asyncio
import multiprocessing
import multiprocessing.connection as mpc
import os
import queue
import selectors
import signal
import socket
import subprocess
import time

import pytest

import shmring
import helpers_mp as h

T = 10.0
PEER = os.environ.get("SHMRING_QUEUE_PEER")


def drain(q):
    got = []
    while True:
        try:
            got.append(q.get_nowait())
        except queue.Empty:
            return got


def test_fileno_is_readable_exactly_when_a_get_would_not_block():
    q = shmring.Queue()
    sel = selectors.DefaultSelector()
    sel.register(q, selectors.EVENT_READ)
    assert sel.select(0) == []
    q.put("x")
    assert [k.fileobj for k, _ in sel.select(T)] == [q]
    assert drain(q) == ["x"]
    assert sel.select(0) == [], "the empty get_nowait re-armed it"
    q.shutdown()
    assert [k.fileobj for k, _ in sel.select(T)] == [q], "shut down: a get returns at once"
    sel.close()


def test_selectors_loop_over_three_queues_and_a_pipe(names):
    ctx = multiprocessing.get_context("fork")
    queues = [shmring.Queue(name=names("queue")) for _ in range(3)]
    reader, writer = shmring.Pipe(duplex=False)
    n = 100
    producers = [ctx.Process(target=h.put_paced, args=(queues[i], ["q%d-%d" % (i, k) for k in range(n)], 0.002))
                 for i in range(2)]
    producers.append(ctx.Process(target=h.send_paced_and_close, args=(writer, ["p%d" % k for k in range(n)], 0.002)))
    for p in producers:
        p.start()
    writer.close()  # the child holds the send end now: its close() is the EOF
    cpp = None
    if PEER:  # the third queue's producer: a separately started C++ executable
        cpp = subprocess.Popen([PEER, "put-hex", queues[2].name] + [(b"c%d" % k).hex() for k in range(n)],
                               stdout=subprocess.DEVNULL)
    else:
        producers.append(ctx.Process(target=h.put_paced, args=(queues[2], [b"c%d" % k for k in range(n)], 0.002)))
        producers[-1].start()

    sel = selectors.DefaultSelector()
    for q in queues:
        sel.register(q, selectors.EVENT_READ)
    sel.register(reader, selectors.EVENT_READ)
    got = {id(q): [] for q in queues}
    got[id(reader)] = []
    eof = False
    deadline = time.monotonic() + 60
    while (sum(len(v) for v in got.values()) < 4 * n or not eof) and time.monotonic() < deadline:
        for key, _ in sel.select(1.0):
            obj = key.fileobj
            if obj is reader:
                while reader.poll():
                    try:
                        got[id(reader)].append(reader.recv())
                    except EOFError:
                        eof = True
                        sel.unregister(reader)
                        break
            else:
                got[id(obj)].extend(drain(obj))
    sel.close()
    for p in producers:
        p.join(T)
        assert p.exitcode == 0
    if cpp:
        assert cpp.wait(T) == 0
    assert got[id(queues[0])] == ["q0-%d" % k for k in range(n)]
    assert got[id(queues[1])] == ["q1-%d" % k for k in range(n)]
    assert got[id(queues[2])] == [b"c%d" % k for k in range(n)]
    assert got[id(reader)] == ["p%d" % k for k in range(n)]
    assert eof, "the sender's close() woke the loop with EOF"


def test_connection_wait_mixes_shmring_pipes_and_multiprocessing_pipes():
    ctx = multiprocessing.get_context("fork")
    ours_r, ours_w = shmring.Pipe(duplex=False)
    theirs_r, theirs_w = multiprocessing.Pipe(duplex=False)
    p1 = ctx.Process(target=h.send_paced_and_close, args=(ours_w, list(range(30)), 0.001))
    p2 = ctx.Process(target=h.send_paced_and_close, args=(theirs_w, list(range(30)), 0.001))
    p1.start()
    p2.start()
    ours_w.close()
    theirs_w.close()
    readers = [ours_r, theirs_r]
    got = {id(ours_r): [], id(theirs_r): []}
    deadline = time.monotonic() + 30
    while readers and time.monotonic() < deadline:
        for r in mpc.wait(readers, timeout=1.0):  # the documented idiom: wait, then a blocking recv
            try:
                got[id(r)].append(r.recv())
            except EOFError:
                readers.remove(r)
    p1.join(T)
    p2.join(T)
    assert got[id(ours_r)] == list(range(30))
    assert got[id(theirs_r)] == list(range(30))
    assert readers == [], "both EOFs seen"


def test_a_killed_child_is_eof_to_a_waiting_loop():
    ctx = multiprocessing.get_context("fork")
    r, w = shmring.Pipe(duplex=False)
    ready = ctx.Event()
    child = ctx.Process(target=h.hold_end_forever, args=(w, ready))
    child.start()
    assert ready.wait(T)
    w.close()  # the child is the send end's only holder
    assert mpc.wait([r], timeout=0.2) == [], "the child lives: nothing to read"
    t0 = time.monotonic()
    os.kill(child.pid, signal.SIGKILL)
    assert mpc.wait([r], timeout=T) == [r]
    assert time.monotonic() - t0 < 1.0
    with pytest.raises(EOFError):
        r.recv()
    child.join(T)


def test_asyncio_add_reader():
    ctx = multiprocessing.get_context("fork")
    q = shmring.Queue()
    producer = ctx.Process(target=h.put_paced, args=(q, list(range(50)), 0.005))

    async def consume():
        loop = asyncio.get_running_loop()
        got = []
        done = loop.create_future()

        def ready():
            got.extend(drain(q))
            if len(got) >= 50 and not done.done():
                done.set_result(None)

        loop.add_reader(q.fileno(), ready)
        producer.start()
        try:
            await asyncio.wait_for(done, 30)
        finally:
            loop.remove_reader(q.fileno())
        return got

    assert asyncio.run(consume()) == list(range(50))
    producer.join(T)
    assert producer.exitcode == 0


def test_blocking_calls_and_a_socket_in_one_select():
    # A socket and a queue in one select(): whichever is ready first is seen.
    a, b = socket.socketpair()
    q = shmring.Queue()
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, "socket")
    sel.register(q, selectors.EVENT_READ, "queue")
    b.send(b"s")
    assert [k.data for k, _ in sel.select(T)] == ["socket"]
    a.recv(1)
    q.put(1)
    assert [k.data for k, _ in sel.select(T)] == ["queue"]
    sel.close()
    a.close()
    b.close()


def test_fileno_errors_are_clear():
    r, w = shmring.Pipe(duplex=False)
    with pytest.raises(OSError, match="write-only"):
        w.fileno()
    q = shmring.Queue()
    q.close()
    with pytest.raises(ValueError, match="closed"):
        q.fileno()
