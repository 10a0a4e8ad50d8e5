/* spsc_slot_ring.pml: the SPSC ring of fixed-size slots,
 * core/include/shmring/engine/spsc_slot_ring.hpp (Queue's fixed-size messages and
 * SpscTypedRing<T>), with its producer and consumer killed and replaced.
 *
 * One slot holds one message; positions count slots (T: published, H:
 * consumed) and grow without bound, so message k lives at position k. A
 * slot's contents are modelled as (position, incarnation of the producer
 * that wrote it): enough to tell an old lap, a torn or foreign write, and
 * who published what.
 *
 * Each side keeps a local copy of its own position and a cached copy of the
 * other's (reloaded only when the cache says full / empty), as the code does.
 * A side may die at any step (at most CRASHES times each); a new incarnation
 * then attaches as attach_producer() / attach_consumer() do: its own
 * position and its cache from the two published positions, nothing else.
 * A dying producer's pending stores land before the new one attaches (a
 * process's stores are visible once it is dead and its death observed, which
 * is how the takeover learns of it).
 *
 * Memory: the consumer's reads, the shared positions and the consumer's
 * stores are sequentially consistent. The producer's slot stores go through
 * a store buffer (one pending value per slot) that drains in any order at any
 * time; publish()'s release store of tail first drains it.
 *
 * Properties (assertions; spin's invalid-end-state check; the LTL claim):
 *   - the producer never overwrites a slot the consumer has not finished
 *     reading (ghost `read_done`);
 *   - the consumer never reads a slot being written (ghost `writing`) and
 *     reads exactly what the producer that published the position wrote;
 *   - order and loss: deliveries come in position order with no gap; a
 *     position is delivered twice only when a consumer died after reading it
 *     and before publishing head (the one message a dead consumer held);
 *   - positions stay sane (head <= tail <= head + S) at every reload/attach;
 *   - no deadlock; liveness: <> every message delivered (weak fairness).
 *
 * Weakened variants (each must be caught):
 *   -DHEAD_BEFORE_READ    the consumer publishes head before reading the slot
 *   -DRELAXED_TAIL        tail published without draining the slot stores
 *   -DROOM_OFF_BY_ONE     room check `tail - head <= S`
 *   -DATTACH_AT_TAIL      a new consumer starts at the tail (skips what is queued)
 *   -DPUBLISH_EARLY       try_push publishes tail before copying into the slot
 */

#ifndef S
#define S 2              /* slots (a power of two, >= 2) */
#endif
#ifndef N
#define N 5              /* messages */
#endif
#ifndef MAXMSG
#define MAXMSG 0         /* max_messages (limit_ = MAXMSG if 0 < MAXMSG < S, else S) */
#endif
#ifndef CRASHES
#define CRASHES 1        /* deaths of each side */
#endif
#if MAXMSG > 0 && MAXMSG < S
#define LIMIT MAXMSG
#else
#define LIMIT S
#endif

#define NONE 255
#define GARBAGE 254

typedef Slot {
  byte at;               /* the position written into this slot (GARBAGE: never written) */
  byte inc;              /* the producer incarnation that wrote it */
};

Slot mem[S];             /* the slots as the consumer sees them */
Slot buf[S];             /* the producer's store buffer */
bool pending[S];

byte T = 0;              /* tail: ring.producer.tail */
byte H = 0;              /* head: ring.consumer.head */

/* ghosts */
bool writing[S];         /* written by the producer, not yet published */
byte read_done = 0;      /* the consumer finished reading every position below this */
byte published_by[N];    /* incarnation that published each position */
byte next_expected = 0;  /* the first position never delivered */
bool may_repeat[N];      /* a dead consumer read it and did not publish head */
byte delivered = 0;      /* positions delivered (first deliveries) */
byte producer_deaths = 0;
byte consumer_deaths = 0;

inline store_slot(where, who) {
  d_step {
    if
    :: (where) >= read_done + S ->
      printf("producer %d: writes position %d over position %d, not read yet\n", who, where, (where) - S)
    :: else -> skip
    fi;
    assert((where) < read_done + S);
    buf[(where) % S].at = (where);
    buf[(where) % S].inc = (who);
    pending[(where) % S] = true;
    writing[(where) % S] = true
  }
}

inline drain_all() {
  for (u : 0 .. S - 1) {
    if
    :: pending[u] -> mem[u].at = buf[u].at; mem[u].inc = buf[u].inc; pending[u] = false
    :: else -> skip
    fi
  };
  u = 0
}

/* publish(): SYNC(slot) release store of tail after the slot's bytes. */
inline publish(inc) {
  d_step {
#ifndef RELAXED_TAIL
    drain_all();
#endif
    for (u : 0 .. S - 1) { writing[u] = false };
    u = 0;
    published_by[tail] = inc;
    tail = tail + 1;
    T = tail;
    printf("producer %d: message %d published, tail -> %d\n", inc, tail - 1, tail)
  }
}

/* The producer dies here: its pending stores land, a new one attaches. */
inline producer_may_die() {
  if
  :: producer_deaths < CRASHES ->
    d_step {
      drain_all();
      for (u : 0 .. S - 1) { writing[u] = false };
      u = 0;
      producer_deaths++;
      printf("producer %d: killed at tail %d (published %d)\n", inc, tail, T)
    };
    run producer(inc + 1);
    goto dead
  :: true -> skip
  fi
}

proctype producer(byte inc) {
  byte tail, cached_head, u;

  d_step {  /* attach_producer(): SYNC(role) acquire of both positions */
    tail = T;
    cached_head = H;
    assert(cached_head <= tail && tail - cached_head <= S)
  };
  do
  :: tail == N -> break
  :: else ->
    producer_may_die();
    /* try_push(): room() reloads head only when the cache says full */
room:
#ifdef ROOM_OFF_BY_ONE
    if
    :: tail - cached_head > LIMIT ->
#else
    if
    :: tail - cached_head >= LIMIT ->
#endif
      cached_head = H;  /* SYNC(space) acquire */
      assert(cached_head <= tail && tail - cached_head <= S);
#ifdef ROOM_OFF_BY_ONE
      if
      :: tail - cached_head > LIMIT -> (H != cached_head); goto room  /* full: wait */
      :: else -> skip
      fi
#else
      if
      :: tail - cached_head >= LIMIT -> (H != cached_head); goto room  /* full: wait */
      :: else -> skip
      fi
#endif
    :: else -> skip
    fi;
#ifdef PUBLISH_EARLY
    publish(inc);
    store_slot(tail - 1, inc);
#else
    store_slot(tail, inc);
    producer_may_die();
    publish(inc)
#endif
  od;
dead:
  skip
}

inline consumer_may_die() {
  if
  :: consumer_deaths < CRASHES ->
    d_step {
      consumer_deaths++;
      if
      :: holding != NONE -> may_repeat[holding] = true
      :: else -> skip
      fi;
      printf("consumer %d: killed at head %d (holding %d)\n", inc, head, holding)
    };
    run consumer(inc + 1);
    goto dead
  :: true -> skip
  fi
}

proctype consumer(byte inc) {
  byte head, cached_tail, p, w, holding = NONE;

  d_step {  /* attach_consumer() */
#ifdef ATTACH_AT_TAIL
    if
    :: inc > 0 -> head = T
    :: else -> head = H
    fi;
#else
    head = H;
#endif
    cached_tail = T;
    assert(head <= cached_tail && cached_tail - head <= S)
  };
  do
  :: head == N -> break
  :: else ->
    /* look(): reload tail only when the cache says empty */
look:
    if
    :: head == cached_tail ->
      cached_tail = T;  /* SYNC(slot) acquire */
      if
      :: cached_tail == head -> (T != head); goto look  /* empty: wait */
      :: else -> skip
      fi;
      assert(head <= cached_tail && cached_tail - head <= S)
    :: else -> skip
    fi;
#ifdef HEAD_BEFORE_READ
    H = head + 1;
#endif
    d_step {  /* the copy out of the slot */
      if
      :: writing[head % S] -> printf("consumer %d: reads position %d while it is being written\n", inc, head)
      :: else -> skip
      fi;
      assert(!writing[head % S]);
      p = mem[head % S].at;
      w = mem[head % S].inc;
      if
      :: p != head || w != published_by[head] ->
        printf("consumer %d: position %d holds (%d, producer %d), published by producer %d\n",
               inc, head, p, w, published_by[head])
      :: else -> skip
      fi;
      assert(p == head && w == published_by[head]);
      read_done = head + 1;
      /* order, no gap; a repeat only of what a dead consumer held */
      assert(head <= next_expected);
      if
      :: head == next_expected -> next_expected++; delivered++
      :: else -> assert(may_repeat[head]); may_repeat[head] = false;
                 printf("consumer %d: position %d delivered again (its consumer died holding it)\n", inc, head)
      fi;
      holding = head
    };
    consumer_may_die();
    /* consume(): SYNC(space) release of head */
    head = head + 1;
#ifndef HEAD_BEFORE_READ
    H = head;
#endif
    holding = NONE;
    consumer_may_die()
  od;
dead:
  skip
}

/* The producer's store buffer drains in any order, at any time. */
#define DRAIN(k) :: d_step { pending[k] -> mem[k].at = buf[k].at; mem[k].inc = buf[k].inc; pending[k] = false }
proctype memory() {
end:
  do
  DRAIN(0)
  DRAIN(1)
#if S > 2
  DRAIN(2)
  DRAIN(3)
#endif
  od
}

init {
  byte u;
  atomic {
    for (u : 0 .. S - 1) { mem[u].at = GARBAGE; mem[u].inc = GARBAGE };
    run producer(0);
    run consumer(0);
    run memory()
  }
}

ltl all_delivered { <> (delivered == N) }
