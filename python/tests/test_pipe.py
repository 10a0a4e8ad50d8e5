"""Pipe and Connection: the same assertions against multiprocessing and shmring."""
import array
import time

import pytest

import helpers_mp as h
from conftest import T, poll_while_alive


def test_duplex_send_recv_both_ways(mp):
    a, b = mp.Pipe()
    assert a.readable and a.writable and b.readable and b.writable
    assert not a.closed and not b.closed
    a.send({"x": [1, 2, 3]})
    b.send(obj=("tuple", None))
    assert b.poll(T) and b.recv() == {"x": [1, 2, 3]}
    assert a.poll(T) and a.recv() == ("tuple", None)
    for obj in (b"raw", b"", b"\x80\x05looks pickled", "text", 12345678901234567890, [b"x"] * 3):
        a.send(obj)
        assert b.poll(T)
        got = b.recv()
        assert got == obj and type(got) is type(obj)
    a.close()
    b.close()


def test_eof_after_close(mp):
    a, b = mp.Pipe()
    a.send("last")
    a.close()
    assert a.closed
    assert b.poll(T)
    assert b.recv() == "last"
    assert b.poll(T)  # EOF is something to recv
    with pytest.raises(EOFError):
        b.recv()
    with pytest.raises(EOFError):
        b.recv()  # EOF is final
    with pytest.raises(EOFError):
        b.recv_bytes()


def test_eof_when_closed_in_child(mp, procs):
    """The child sends and closes its end; the parent closed its copy:
    the parent receives everything, then EOFError."""
    parent_conn, child_conn = mp.Pipe()
    p = procs.start(h.send_and_close, child_conn, ["one", 2, [3]])
    child_conn.close()
    got = []
    for _ in range(3):
        assert parent_conn.poll(T)
        got.append(parent_conn.recv())
    assert got == ["one", 2, [3]]
    assert parent_conn.poll(T)
    with pytest.raises(EOFError):
        parent_conn.recv()
    procs.join_ok(p)


def test_eof_when_child_exits(mp, procs):
    """A child that exits without closing closes its handle all the same."""
    parent_conn, child_conn = mp.Pipe()
    p = procs.start(h.send_one, child_conn, "bye")
    child_conn.close()
    procs.join_ok(p)
    assert parent_conn.poll(T) and parent_conn.recv() == "bye"
    assert parent_conn.poll(T)
    with pytest.raises(EOFError):
        parent_conn.recv()


def test_eof_when_child_killed(mp, procs):
    """A child killed with SIGKILL holding the other end: EOF all the same."""
    parent_conn, child_conn = mp.Pipe()
    ev = mp.Event()
    p = procs.start(h.send_then_wait, child_conn, "before", ev)
    child_conn.close()
    assert parent_conn.poll(T) and parent_conn.recv() == "before"
    p.kill()
    p.join(T)
    assert p.exitcode == -9
    assert parent_conn.poll(T)
    with pytest.raises(EOFError):
        parent_conn.recv()


def test_send_to_closed_other_end_is_broken_pipe(mp):
    a, b = mp.Pipe()
    b.close()
    with pytest.raises((BrokenPipeError, OSError)):
        for _ in range(100):  # the OS pipe of multiprocessing may take one
            a.send_bytes(b"x" * 1000)


def test_send_bytes_recv_bytes(mp):
    a, b = mp.Pipe()
    a.send_bytes(b"hello")
    a.send_bytes(bytearray(b"bytearray"))
    a.send_bytes(memoryview(b"0123456789"), 2)  # offset
    a.send_bytes(b"0123456789", 2, 5)  # offset and size
    a.send_bytes(buf=b"kw", offset=0, size=None)
    a.send_bytes(array.array("i", [1, 2]))
    assert b.recv_bytes() == b"hello"
    assert b.recv_bytes() == b"bytearray"
    assert b.recv_bytes() == b"23456789"
    assert b.recv_bytes() == b"23456"
    assert b.recv_bytes(maxlength=100) == b"kw"
    assert b.recv_bytes() == array.array("i", [1, 2]).tobytes()
    with pytest.raises(ValueError):
        a.send_bytes(b"abc", 4)
    with pytest.raises(ValueError):
        a.send_bytes(b"abc", 1, 3)
    with pytest.raises(ValueError):
        a.send_bytes(b"abc", 0, -1)


def test_recv_bytes_maxlength(mp):
    a, b = mp.Pipe()
    a.send_bytes(b"x" * 100)
    with pytest.raises(OSError):
        b.recv_bytes(10)


def test_recv_bytes_into(mp):
    a, b = mp.Pipe()
    buf = bytearray(16)
    a.send_bytes(b"abcdef")
    assert b.recv_bytes_into(buf) == 6
    assert bytes(buf[:6]) == b"abcdef"
    a.send_bytes(b"XYZ")
    assert b.recv_bytes_into(buf, 10) == 3  # at an offset
    assert bytes(buf) == b"abcdef\0\0\0\0XYZ\0\0\0"
    a.send_bytes(b"12345")
    assert b.recv_bytes_into(memoryview(buf), offset=11) == 5
    assert bytes(buf[11:]) == b"12345"


def test_recv_bytes_into_too_short(mp):
    a, b = mp.Pipe()
    message = b"a message longer than the buffer"
    a.send_bytes(message)
    with pytest.raises(mp.BufferTooShort) as info:
        b.recv_bytes_into(bytearray(8))
    assert info.value.args[0] == message  # the whole message, as bytes
    a.send_bytes(b"0123")
    with pytest.raises(mp.BufferTooShort):
        b.recv_bytes_into(bytearray(6), 3)  # room for 3 after the offset
    a.send_bytes(b"next")
    assert b.recv_bytes() == b"next"  # the too-long messages were consumed


def test_recv_bytes_into_binary_message_too_short(mp):
    """BufferTooShort carries any message, also bytes that are not text."""
    a, b = mp.Pipe()
    message = bytes(range(256))
    a.send_bytes(message)
    with pytest.raises(mp.BufferTooShort) as info:
        b.recv_bytes_into(bytearray(10))
    assert info.value.args[0] == message


def test_recv_bytes_into_typed_buffer(mp):
    """Into an array of ints: the result and the offset count bytes."""
    a, b = mp.Pipe()
    a.send_bytes(array.array("i", [7, 8, 9]))
    buf = array.array("i", [0] * 5)
    assert b.recv_bytes_into(buf) == 3 * buf.itemsize
    assert list(buf) == [7, 8, 9, 0, 0]
    a.send_bytes(array.array("i", [5]))
    assert b.recv_bytes_into(buf, 4 * buf.itemsize) == buf.itemsize
    assert list(buf) == [7, 8, 9, 0, 5]


def test_poll(mp, procs):
    a, b = mp.Pipe()
    t0 = time.monotonic()
    assert b.poll() is False  # timeout=0: at once
    assert b.poll(0) is False
    assert time.monotonic() - t0 < 0.25  # at once: not the 0.3 s of the timeouts below
    t0 = time.monotonic()
    assert b.poll(0.3) is False
    assert 0.28 <= time.monotonic() - t0 < 2.0
    a.send(1)
    assert b.poll(T) is True
    assert b.poll() is True  # poll does not consume
    assert b.recv() == 1
    # poll(None) waits for a child's message (sent after 0.2 s)
    p = procs.start(h.send_after, a, "late", 0.2)
    t0 = time.monotonic()
    assert b.poll(None) is True
    assert 0.1 < time.monotonic() - t0 < T
    assert b.recv() == "late"
    procs.join_ok(p)


def test_closed_handle(mp):
    a, b = mp.Pipe()
    with a:
        pass
    assert a.closed
    for call in (lambda: a.send(1), lambda: a.recv(), lambda: a.poll(), lambda: a.send_bytes(b"x")):
        with pytest.raises(OSError):
            call()
    a.close()  # twice: fine
    b.close()
    assert b.closed


def test_one_way_pipe(mp):
    r, w = mp.Pipe(duplex=False)
    assert r.readable and not r.writable
    assert w.writable and not w.readable
    w.send("down")
    w.send_bytes(b"bytes")
    assert r.poll(T) and r.recv() == "down"
    assert r.recv_bytes() == b"bytes"
    with pytest.raises(OSError):
        r.send("up")
    with pytest.raises(OSError):
        w.recv()
    w.close()
    assert r.poll(T)
    with pytest.raises(EOFError):
        r.recv()


def test_one_way_pipe_across_processes(mp, procs):
    r, w = mp.Pipe(False)
    p = procs.start(h.send_and_close, w, list(range(50)))
    w.close()
    got = []
    while r.poll(T):
        try:
            got.append(r.recv())
        except EOFError:
            break
    assert got == list(range(50))
    procs.join_ok(p)


def test_ping_pong_with_child(mp, procs):
    a, b = mp.Pipe()
    p = procs.start(h.echo, b, 20)
    for i in range(20):
        a.send(i)
        assert a.poll(T)
        assert a.recv() == ("echo", i)
    procs.join_ok(p)


def test_tutorial_6_ten_senders_one_end(mp, procs):
    parent_conn, child_conn = mp.Pipe()
    ps = [procs.start(h.send_one, child_conn, ["hello", i]) for i in range(10)]
    got = []
    for _ in range(10):
        assert parent_conn.poll(T)
        got.append(parent_conn.recv())
    procs.join_ok(*ps)
    assert sorted(got) == [["hello", i] for i in range(10)]


def test_large_message(mp, procs):
    """Messages of a few hundred KiB, as multiprocessing carries them (any size)."""
    a, b = mp.Pipe()
    big = bytes(range(256)) * 1024  # 256 KiB
    p = procs.start(h.send_bytes_and_close, b, [big, big[::-1]])
    assert poll_while_alive(a, p) and a.recv_bytes() == big
    assert poll_while_alive(a, p) and a.recv_bytes() == big[::-1]
    procs.join_ok(p)
