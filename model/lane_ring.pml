/* lane_ring.pml: one lane of the lane engine (core/include/shmring/engine/lane_ring.hpp).
 *
 * A lane is an SPSC byte ring (spsc_ring.pml checks its producer side in
 * detail) whose head any number of consumers move with a compare-and-swap.
 * This model checks what the lane adds: consumers that read a record before
 * the CAS that decides whether it is theirs, a producer that reuses the
 * bytes as soon as it sees head move, consumers killed at any step (their
 * reader slots tell a repairer what they took), and the lane's producer
 * killed mid-record and replaced by an heir that resumes at the published
 * tail (a guest taking over the last lane, or a producer taking over a dead
 * owner's lane).
 *
 * Sizes: one record per unit (a record's header and payload are the two
 * fields of a unit, written one after the other, so a read that overlaps a
 * reuse can be torn); N messages through a lane of CAP units; C consumers
 * (at most CRASHC of them killed) and one producer (at most CRASHP times
 * killed and replaced). Positions are message numbers and grow without
 * bound, as the code's byte positions do.
 *
 * Memory is sequentially consistent here. The orderings the code relies on
 * for weaker hardware (the producer's acquire load of head before reuse, the
 * consumer's acquire load of tail before reading and its release CAS) are
 * argued in lane_ring.hpp; this model checks the protocol's logic.
 *
 * Weakened variants (each must be caught):
 *   -DPLAIN_TAKE        the take is a check of head then a separate store (no CAS)
 *   -DSLOT_AFTER_TAKE   the reader slot is written only after the CAS succeeded
 *   -DEARLY_REUSE       the producer reuses a unit one record too early
 *   -DREAD_AFTER_TAKE   the consumer reads the record after its CAS
 *
 * Properties (assertions and the invalid-end-state check):
 *   - a record a consumer took is the message that was written there, whole
 *     (header and payload both its number);
 *   - each message is delivered at most once, and each consumer sees the
 *     messages in increasing order;
 *   - at the end, every message is delivered, except messages taken by
 *     killed consumers, and those are no more than what the repairer counts
 *     from the dead consumers' reader slots (reads_lost);
 *   - nobody blocks forever (invalid end states).
 */

#ifndef N
#define N 4
#endif
#ifndef CAP
#define CAP 2
#endif
#ifndef C
#define C 2
#endif
#ifndef CRASHC
#define CRASHC 1
#endif
#ifndef CRASHP
#define CRASHP 1
#endif
#ifndef HOLD
#define HOLD 0          /* 1: consumers read() and hold the message until release(); 0: get_into() */
#endif

#define IDLE 0
#define TRYING 1
#define HOLDING 2

typedef Unit {
  byte hdr;
  byte pay;
};

Unit mem[CAP];
byte T = 0;                 /* the lane's tail (published) */
byte H = 0;                 /* the lane's head (moved by consumers' CAS) */

byte slot_state[C];         /* LaneReaderLayout::state */
byte slot_from[C];          /* LaneReaderLayout::from */
bool dead[C];
byte delivered[N];
byte crashes_c = 0;
byte crashes_p = 0;
byte done_c = 0;            /* consumers finished or dead */
byte reads_lost = 0;

/* The message read at h reaches the caller: it must be message h, whole,
 * once, and after what this consumer had before. */
#define DELIVER \
  assert(a == h && b == h); \
  assert(last == 255 || a > last); \
  last = a; \
  delivered[a]++; \
  assert(delivered[a] == 1)

/* A consumer may be killed here (at most CRASHC in all). */
#define MAYBE_DIE_C \
  if \
  :: atomic { crashes_c < CRASHC -> crashes_c++ }; goto killed \
  :: true -> skip \
  fi

proctype producer() {
  byte k;
  k = T;                    /* the heir resumes at the published tail */
  do
  :: k == N -> break
  :: else ->
#ifdef EARLY_REUSE
     (k - H <= CAP);
#else
     (k - H < CAP);         /* room: the unit's last record was taken (head moved past it) */
#endif
     mem[k % CAP].hdr = k;
     if
     :: atomic { crashes_p < CRASHP -> crashes_p++; run producer() }; goto gone
     :: true -> skip
     fi;
     mem[k % CAP].pay = k;
     if
     :: atomic { crashes_p < CRASHP -> crashes_p++; run producer() }; goto gone
     :: true -> skip
     fi;
     T = k + 1;             /* publish */
     k++
  od;
gone:
  skip
}

proctype consumer(byte id) {
  byte h, a, b;
  byte last = 255;
  bool ok;
  do
  :: H == N -> break
  :: else ->
     h = H;
     if
     :: h >= T -> (T > h || H != h || H == N); goto next   /* empty: wait for the producer, another taker or the end */
     :: else -> skip
     fi;
#ifndef READ_AFTER_TAKE
     a = mem[h % CAP].hdr;  /* speculative: may be torn if head moves meanwhile */
     b = mem[h % CAP].pay;
#endif
#ifndef SLOT_AFTER_TAKE
     slot_from[id] = h;
     slot_state[id] = TRYING;
#endif
     MAYBE_DIE_C;
#ifdef PLAIN_TAKE
     ok = (H == h);
     if
     :: ok -> H = h + 1
     :: else -> skip
     fi;
#else
     atomic {
       if
       :: H == h -> H = h + 1; ok = true
       :: else -> ok = false
       fi;
#if !HOLD && !defined(READ_AFTER_TAKE)
       /* get_into: the copy made before the CAS is in the caller's buffer:
        * a successful CAS is the delivery */
       if
       :: ok -> DELIVER
       :: else -> skip
       fi
#endif
     }
#endif
     MAYBE_DIE_C;
     if
     :: ok ->
#ifdef SLOT_AFTER_TAKE
        slot_from[id] = h;
        slot_state[id] = TRYING;
#endif
#ifdef READ_AFTER_TAKE
        a = mem[h % CAP].hdr;
        b = mem[h % CAP].pay;
#endif
#if HOLD || defined(READ_AFTER_TAKE) || defined(PLAIN_TAKE)
        /* read(): held from the CAS until read() returns it to the caller */
        slot_state[id] = HOLDING;
        MAYBE_DIE_C;
        DELIVER;
        MAYBE_DIE_C;        /* the caller has it, not yet released */
#endif
        slot_state[id] = IDLE
     :: else ->
        slot_state[id] = IDLE
     fi;
next:
     skip
  od;
  done_c++;
  goto end;
killed:
  dead[id] = true;
  done_c++;
end:
  skip
}

/* After everyone is done: the repairer frees the dead consumers' slots and
 * counts what they took (LaneRing::take_slot), then the books are checked. */
active proctype checker() {
  byte i, missing = 0;
  (done_c == C);
  i = 0;
  do
  :: i == C -> break
  :: else ->
     if
     :: dead[i] && slot_state[i] == HOLDING -> reads_lost++
     :: dead[i] && slot_state[i] == TRYING && H != slot_from[i] -> reads_lost++
     :: else -> skip
     fi;
     i++
  od;
  i = 0;
  do
  :: i == N -> break
  :: else ->
     if
     :: delivered[i] == 0 -> missing++
     :: else -> skip
     fi;
     i++
  od;
  /* H == N: the survivors took everything; what nobody delivered went with the dead */
  assert(H == N);
  assert(missing <= reads_lost);
  printf("lane: %d missing, %d counted lost\n", missing, reads_lost)
}

init {
  byte i;
  atomic {
    run producer();
    i = 0;
    do
    :: i == C -> break
    :: else -> run consumer(i); i++
    od
  }
}
