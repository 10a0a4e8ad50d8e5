"""A Python process and a C++ process (tests/support/queue_peer.cpp, started
as its own executable, opening the queue by name) share one queue: what C++
puts, Python gets as bytes; what Python puts as bytes, C++ gets unchanged."""
import os
import subprocess
import uuid

import pytest

import shmring

PEER = os.environ.get("SHMRING_QUEUE_PEER")
pytestmark = pytest.mark.skipif(not PEER, reason="SHMRING_QUEUE_PEER (the C++ peer) is set by ctest")

MESSAGES = [b"hello from python", b"", bytes(range(256)), b"x" * 5000, "é".encode()]


@pytest.fixture
def named_queue():
    name = "pytest-interop-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])
    q = shmring.Queue(name=name)
    yield q
    shmring.Queue.unlink(name)


def peer(*args):
    return subprocess.run([PEER, *args], capture_output=True, text=True, timeout=30, check=True).stdout.split("\n")


def test_cpp_puts_python_gets_bytes(named_queue):
    out = peer("put-hex", named_queue.name, *(m.hex() for m in MESSAGES))
    assert out[0] == "ok %d" % len(MESSAGES)
    got = [named_queue.get(timeout=5) for _ in MESSAGES]
    assert got == MESSAGES
    assert all(type(g) is bytes for g in got)


def test_python_puts_bytes_cpp_gets_them_unchanged(named_queue):
    for m in MESSAGES:
        named_queue.put(m)
    out = peer("get-hex", named_queue.name, str(len(MESSAGES)), "5000")
    assert [bytes.fromhex(line) for line in out[: len(MESSAGES)]] == MESSAGES


def test_bytes_that_look_like_a_pickle_travel_exactly_with_put_bytes(named_queue):
    tricky = b"\x80\x05N."  # pickle's own header: put() would pickle it, put_bytes() never does
    named_queue.put_bytes(tricky)
    assert bytes.fromhex(peer("get-hex", named_queue.name, "1", "5000")[0]) == tricky
    peer("put-hex", named_queue.name, tricky.hex())
    assert named_queue.get_bytes(timeout=5) == tricky
    named_queue.put(tricky)  # through Python on both sides it round-trips as the same bytes
    assert named_queue.get(timeout=5) == tricky
