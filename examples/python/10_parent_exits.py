"""Scenario 10: the parent starts a sender and a receiver and exits.

The parent creates a queue, starts a sender and a receiver, and is done: it
joins neither (the tutorial that did this hit FileNotFoundError on the
queue's semaphore). The children still finish their exchange: the receiver
writes what it received to the file named by the first argument (default
parent_exits.txt), one item per line, then "done".

EXAMPLE_START_METHOD, if set, chooses the start method (fork, spawn,
forkserver).

The first import line is the only one to change to run this with Python's
own multiprocessing (from multiprocessing import Process, Queue, ...).
"""
from shmring import Process, Queue, set_start_method
import os
import sys
import time

COUNT = 10


def sender(q):
    for i in range(COUNT):
        q.put("message %d" % i)
        time.sleep(0.02)
    q.put(None)  # no more messages


def receiver(q, path):
    received = []
    while True:
        message = q.get()
        if message is None:
            break
        received.append(message)
    with open(path + ".tmp", "w") as f:
        for message in received:
            f.write(message + "\n")
        f.write("done\n")
    os.replace(path + ".tmp", path)  # the file appears complete


if __name__ == "__main__":
    if os.environ.get("EXAMPLE_START_METHOD"):
        set_start_method(os.environ["EXAMPLE_START_METHOD"])
    path = sys.argv[1] if len(sys.argv) > 1 else "parent_exits.txt"
    q = Queue()
    Process(target=sender, args=(q,)).start()
    Process(target=receiver, args=(q, path)).start()
    print("parent: started a sender and a receiver; exiting without joining them")
