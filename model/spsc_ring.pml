/* spsc_ring.pml: the SPSC byte ring of core/include/shmring/engine/spsc_ring.hpp.
 *
 * One producer (try_push: the fast path, else claim() + commit()) and one
 * consumer (front() + pop()) move N messages of nondeterministic sizes
 * through a ring of CAP units. A unit is one kRecordAlign = 8 bytes; a record
 * is its 8-byte RecordHeader (one unit) then its payload units. Positions are
 * in units and grow without bound, as the code's byte positions do.
 *
 * Memory: the consumer's reads, the shared positions and the consumer's
 * stores are sequentially consistent. The producer's stores of record units
 * go through a store buffer (one pending value per unit) that drains in any
 * order at any time (an ARM/RISC-V-like weak store order); publish()'s
 * release store of tail first drains it. -DRELAXED_TAIL drops that drain.
 *
 * Weakened variants (each must be caught):
 *   -DHEAD_BEFORE_READ  pop() stores head before the payload is read
 *   -DRELAXED_TAIL      tail published without release (record bytes may land later)
 *   -DWRAP_NEED_BUG     claim() checks room for the record only, not for the padding
 *   -DPUBLISH_EARLY     try_push's fast path publishes tail before copying the payload
 *
 * Properties (assertions; plus spin's invalid-end-state check and the LTL
 * claim `delivered`):
 *   - FIFO, no duplicate, no loss: the k-th record the consumer takes carries
 *     sequence number k and the size the producer chose for message k; the
 *     consumer ends having taken all N (else it blocks forever: invalid end).
 *   - the consumer never reads a unit the producer is still writing
 *     (ghost `writing[u]`: set by the producer's write, cleared by publish).
 *   - the producer never overwrites an unconsumed record: it writes position
 *     p only if p - CAP is below `read_done`, the ghost position up to which
 *     the consumer has read every unit (a padding record's tail is skipped,
 *     never read).
 */

#ifndef CAP
#define CAP 4            /* ring units (capacity_ = 8 * CAP bytes), a power of two */
#endif
#ifndef N
#define N 4              /* messages */
#endif
#ifndef MAXMSG
#define MAXMSG 0         /* max_messages_ (0: no count limit) */
#endif
/* max_payload_for(8 * CAP) = 8 * CAP / 2 - 8 bytes: CAP / 2 - 1 units */
#define MAXU (CAP / 2 - 1)

#define PAD 128          /* kPaddingFlag, in a header's length (counted in units here) */
#define PAYLOAD 255      /* a payload unit's `len`: not a header */
#define GARBAGE 254      /* initial contents */

typedef Unit {
  byte ln;               /* header: payload units, or PAD | units after this header */
  byte seq;              /* header: message number (padding: the next message's); payload: the message number */
};

Unit mem[CAP];           /* the ring's bytes as the consumer sees them (memory) */
Unit buf[CAP];           /* the producer's store buffer: pending unit stores */
bool pending[CAP];

byte T = 0;              /* SpscProducerLayout::tail */
byte H = 0;              /* SpscConsumerLayout::head */
byte G = 0;              /* SpscConsumerLayout::get_count */

/* ghosts */
bool writing[CAP];       /* unit written by the producer and not yet published */
byte read_done = 0;      /* the consumer has finished reading every unit below this position */
byte sizes[N];           /* payload units the producer chose for each message */
byte taken = 0;          /* messages the consumer took */

/* The producer stores one unit (write_header() or the payload memcpy). */
inline store_unit(pos, l, s) {
  d_step {
    /* the producer never overwrites an unconsumed record */
    if
    :: (pos) >= read_done + CAP ->
      printf("producer: writes position %d over position %d, which the consumer has not read yet\n", pos, (pos) - CAP)
    :: else -> skip
    fi;
    assert((pos) < read_done + CAP);
    buf[(pos) % CAP].ln = l;
    buf[(pos) % CAP].seq = s;
    pending[(pos) % CAP] = true;
    writing[(pos) % CAP] = true
  }
}

/* publish(): SYNC(record) release store of tail, after the record bytes. */
inline publish(new_tail) {
  d_step {
#ifndef RELAXED_TAIL
    for (u : 0 .. CAP - 1) {
      if
      :: pending[u] -> mem[u].ln = buf[u].ln; mem[u].seq = buf[u].seq; pending[u] = false
      :: else -> skip
      fi
    };
    u = 0;
#endif
    for (u : 0 .. CAP - 1) { writing[u] = false };
    u = 0;
    tail = (new_tail);
    put = put + 1;
    T = tail;
    printf("producer: message %d (%d payload units) published, tail -> %d\n", put - 1, sizes[put - 1], tail)
  }
}

/* refresh_limits() */
inline refresh_limits() {
  d_step {
    lap_end = tail - tail % CAP + CAP;
    if
    :: lap_end < cached_head + CAP -> limit = lap_end
    :: else -> limit = cached_head + CAP
    fi;
    if
    :: MAXMSG == 0 -> count_limit = 255
    :: else -> count_limit = cached_got + MAXMSG
    fi
  }
}

proctype producer() {
  byte tail = 0, put = 0, cached_head = 0, cached_got = 0, limit, count_limit, lap_end;
  byte size, csize, rec, off, contig, need, start, i, u;

  refresh_limits();      /* attach_producer() */
  do
  :: put == N -> break
  :: else ->
    select (size : 0 .. MAXU);
    sizes[put] = size;
    rec = 1 + size;
    if
    :: tail + rec <= limit && put < count_limit ->
      /* try_push fast path: header, payload, publish */
      store_unit(tail, size, put);
#ifdef PUBLISH_EARLY
      publish(tail + rec);
      for (i : 1 .. size) { store_unit(tail - rec + i, PAYLOAD, put - 1) }
#else
      for (i : 1 .. size) { store_unit(tail + i, PAYLOAD, put) };
      publish(tail + rec)
#endif
    :: else ->
      /* claim(): retried until not full; the wait itself is blocking.pml's */
claim:
      if
      :: MAXMSG != 0 && put - cached_got >= MAXMSG ->
        cached_got = G;  /* SYNC(count) acquire */
        assert(cached_got <= put);
        if
        :: put - cached_got >= MAXMSG -> (G != cached_got); goto claim  /* full */
        :: else -> skip
        fi
      :: else -> skip
      fi;
      off = tail % CAP;
      contig = CAP - off;
#ifdef WRAP_NEED_BUG
      need = rec;
#else
      if
      :: rec <= contig -> need = rec
      :: else -> need = contig + rec
      fi;
#endif
      if
      :: tail + need - cached_head > CAP ->
        cached_head = H;  /* SYNC(space) acquire */
        printf("producer: claim reloads head = %d\n", cached_head);
        assert(cached_head <= tail && tail - cached_head <= CAP);  /* positions_sane */
        if
        :: tail + need - cached_head > CAP -> (H != cached_head); goto claim  /* full */
        :: else -> skip
        fi
      :: else -> skip
      fi;
      refresh_limits();
      start = tail;
      if
      :: rec > contig ->
        store_unit(tail, PAD | (contig - 1), put);  /* the padding record */
        start = tail + contig
      :: else -> skip
      fi;
      for (i : 1 .. size) { store_unit(start + i, PAYLOAD, put) };
      /* commit(csize) with csize <= the claimed size (zero-copy put) */
      select (csize : 0 .. size);
      if
      :: csize < size -> printf("producer: claimed %d payload units for message %d, commits %d\n", size, put, csize)
      :: else -> skip
      fi;
      sizes[put] = csize;
      store_unit(start, csize, put);
      publish(start + 1 + csize)
    fi
  od;
  assert(tail < 200)     /* positions fit the model's bytes */
}

proctype consumer() {
  byte head = 0, got = 0, ctail = 0, off, avail, contig, rec, l, s, i;

  do
  :: got == N -> break
  :: else ->
front:
    if
    :: head == ctail ->
      ctail = T;  /* SYNC(record) acquire */
      if
      :: ctail == head -> (T != head); goto front  /* empty: wait (blocking.pml) */
      :: else -> skip
      fi;
      assert(head <= ctail && ctail - head <= CAP)  /* positions_sane */
    :: else -> skip
    fi;
    off = head % CAP;
    avail = ctail - head;
    contig = CAP - off;
    d_step {  /* read_header(): one copy */
      assert(!writing[off]);
      l = mem[off].ln;
      s = mem[off].seq;
      read_done = head + 1
    };
    if
    :: (l != PAYLOAD && l != GARBAGE && (l & PAD) != 0) ->
      /* padding: skip to offset 0; head is published with the next pop() */
      assert(l - PAD == contig - 1 && contig <= avail && s == got);
      printf("consumer: padding at %d skipped\n", head);
      read_done = head + contig;
      head = head + contig;
      goto front
    :: else -> skip
    fi;
    rec = 1 + l;
    /* the corruption checks of front(), and FIFO / no duplicate / no loss */
    if
    :: !(l <= MAXU && rec <= avail && rec <= contig && s == got && l == sizes[got]) ->
      printf("consumer: header at %d reads length %d, seq %d (%d: never written), expected message %d\n",
             head, l, s, GARBAGE, got)
    :: else -> skip
    fi;
    assert(l <= MAXU && rec <= avail && rec <= contig);
    assert(s == got && l == sizes[got]);
#ifdef HEAD_BEFORE_READ
    G = got + 1;
    H = head + rec;
    printf("consumer: head -> %d before reading message %d's payload\n", head + rec, got);
#endif
    /* the caller reads the payload through the view */
    for (i : 1 .. l) {
      d_step {
        if
        :: writing[(head + i) % CAP] ->
          printf("consumer: reads position %d while the producer is writing it\n", head + i)
        :: else -> skip
        fi;
        assert(!writing[(head + i) % CAP]);
        assert(mem[(head + i) % CAP].ln == PAYLOAD && mem[(head + i) % CAP].seq == got);
        read_done = head + i + 1
      }
    };
    /* pop(): get_count, then head (SYNC(count), SYNC(space) releases) */
    head = head + rec;
    got = got + 1;
    taken = got;
#ifndef HEAD_BEFORE_READ
    printf("consumer: message %d read, pop: head -> %d\n", got - 1, head);
    G = got;
    H = head
#endif
  od
}

/* The producer's store buffer drains in any order, at any time. */
#define DRAIN(k) :: d_step { pending[k] -> mem[k].ln = buf[k].ln; mem[k].seq = buf[k].seq; pending[k] = false }
proctype memory() {
end:
  do
  DRAIN(0)
  DRAIN(1)
  DRAIN(2)
  DRAIN(3)
#if CAP > 4
  DRAIN(4)
  DRAIN(5)
  DRAIN(6)
  DRAIN(7)
#endif
  od
}

init {
  byte u;
  atomic {
    for (u : 0 .. CAP - 1) { mem[u].ln = GARBAGE; mem[u].seq = GARBAGE };
    run producer();
    run consumer();
    run memory()
  }
}

ltl delivered { <> (taken == N) }
