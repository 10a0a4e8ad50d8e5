"""Scenario 4: a worker that sends JSON, and a receiver that decodes it.

Worker.send(message) sends strings as they are and serialises anything else
as JSON; Worker.send_all() sends 20 numbered messages one second apart. The
receiver loops forever, decoding JSON when it can. When the sender is done,
the parent stops the receiver cleanly (with a sentinel it understands), then
closes its queue.

The pause between messages is EXAMPLE_PAUSE seconds (default 1.0).

The first import line is the only one to change to run this with Python's
own multiprocessing (from multiprocessing import Process, Queue).
"""
from shmring import Process, Queue
import json
import os
import time

PAUSE = float(os.environ.get("EXAMPLE_PAUSE", "1.0"))
STOP = None  # what the parent sends to stop the receiver


class Worker:
    def __init__(self, queue):
        self.queue = queue

    def send(self, message):
        if not isinstance(message, str):
            message = json.dumps(message)
        self.queue.put(message)

    def send_all(self):
        for i in range(20):
            if i % 2 == 0:
                self.send({"number": i, "value": i * 1.5})
            else:
                self.send("plain text %d" % i)
            time.sleep(PAUSE)


def receiver(queue):
    decoded = texts = 0
    while True:
        message = queue.get()
        if message is STOP:
            break
        try:
            data = json.loads(message)
        except ValueError:
            print("receiver: text %r" % message)
            texts += 1
        else:
            print("receiver: reading %d = %.3f" % (data["number"], data["value"]))
            decoded += 1
    print("receiver: stopped after %d JSON and %d text messages" % (decoded, texts))
    assert decoded == 10 and texts == 10, (decoded, texts)


if __name__ == "__main__":
    queue = Queue()
    r = Process(target=receiver, args=(queue,))
    r.start()
    s = Process(target=Worker(queue).send_all)
    s.start()

    s.join()         # the sender is done:
    queue.put(STOP)  # stop the receiver cleanly
    r.join()
    queue.close()
    queue.join_thread()

    assert s.exitcode == 0 and r.exitcode == 0, (s.exitcode, r.exitcode)
    print("ok: 20 messages, receiver stopped cleanly")
