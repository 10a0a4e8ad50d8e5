"""Scenario 6: ten processes send through one end of a Pipe.

Each child sends one message through the same child_conn and closes it; the
parent receives all ten from parent_conn. Once every child has closed its
end (and the parent closed its own copy), parent_conn reports EOF.

The first import line is the only one to change to run this with Python's
own multiprocessing (from multiprocessing import Pipe, Process).
"""
from shmring import Pipe, Process


def f(conn, i):
    conn.send("hello " + str(i))
    conn.close()


if __name__ == "__main__":
    parent_conn, child_conn = Pipe()
    processes = [Process(target=f, args=(child_conn, i)) for i in range(10)]
    for p in processes:
        p.start()
    child_conn.close()  # the parent's copy: only the children's copies remain

    received = []
    for _ in range(10):
        message = parent_conn.recv()
        print(message)
        received.append(message)
    for p in processes:
        p.join()

    # Every sender has closed its end: the next recv() raises EOFError.
    assert parent_conn.poll(10), "no EOF after every sender closed its end"
    try:
        parent_conn.recv()
        raise AssertionError("recv() after the senders closed should raise EOFError")
    except EOFError:
        print("EOF: every sender closed its end")

    assert sorted(received) == sorted("hello " + str(i) for i in range(10)), received
    assert all(p.exitcode == 0 for p in processes)
    print("ok: ten messages from ten processes, then EOF")
