"""Scenario 3: a Queue passed to Pool tasks.

One task writes a string into a queue letter by letter; a later task reads
the letters back. Python's multiprocessing refuses a plain Queue here
("RuntimeError: Queue objects should only be shared between processes
through inheritance": it needs Manager().Queue()); this library's Queue is
passed by name, so the plain Queue works.

The first import line is the only one to change to run this with Python's
own multiprocessing (from multiprocessing import Pool, Queue), which then
fails as described.
"""
from shmring import Pool, Queue

TEXT = "hello world"


def write(q):
    for letter in TEXT:
        q.put(letter)


def read(q):
    return "".join(q.get() for _ in range(len(TEXT)))


if __name__ == "__main__":
    q = Queue()
    with Pool(2) as pool:
        pool.apply(write, (q,))
        text = pool.apply(read, (q,))
    print(text)
    assert text == TEXT, text
    print("ok")
