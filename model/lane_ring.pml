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
 * (at most CRASHC of them killed, only among 0 .. KILLABLE-1) and one
 * producer (at most CRASHP times killed and replaced). Positions are
 * message numbers and grow without bound, as the code's byte positions do.
 *
 * Memory is sequentially consistent here, but for the lease's asymmetric
 * pair below. The orderings the code relies on for weaker hardware (the
 * producer's acquire load of head before reuse, the consumer's acquire load
 * of tail before reading and its release CAS) are argued in lane_ring.hpp;
 * this model checks the protocol's logic.
 *
 * The sole-consumer lease (-DLEASE). One word, `lease`: 0 free, s + 1 held
 * by the consumer in reader slot s, | REVOKED while being revoked. Each
 * consumer attaches at a step of its own, so it may attach while others
 * take, and detaches when the lane is drained:
 *   attach: its reader slot (seq_cst RMW on the owner word; -DTAKEOVER: the
 *     last consumer may instead take slot 0 from its dead owner, counting
 *     what it held, and so find that owner's lease equal to its own value);
 *     then a seq_cst load of the lease: another's value v is revoked
 *     (CAS v -> v|REVOKED; if the bit is already set, a revoker that may be
 *     dead set it: go on with v|REVOKED), heavy barrier, wait until the
 *     holder slot's state has no SOLE (acquire load) or its owner is 0,
 *     changed or dead, then CAS v|REVOKED -> 0 (failure harmless). Then a
 *     consumer allowed light barriers (id < LIGHT) tries to take it:
 *     CAS 0 -> s + 1, a seq_cst load of every other slot's owner, one
 *     step each; a live owner: give it back (CAS s + 1 -> 0, left alone
 *     if REVOKED was set); else it is sole.
 *   the sole take: from = h; state = TRYING|SOLE (release); a compiler
 *     barrier; relaxed load of the lease; ours: head = h + 1 (a release
 *     store, no CAS), state idle (or HOLDING); not ours: state = TRYING and
 *     the CAS take above, sole no more.
 *   detach: CAS s + 1 -> 0; the slot freed.
 * A killed consumer leaves the lease as it was (held, or REVOKED by a dead
 * revoker): the next consumer to attach revokes it or finishes the
 * revocation.
 *
 * The asymmetric pair (as wakeup.pml's -DASYMMETRIC). The holder's state
 * store and its later lease load are ordered by a compiler barrier only, so
 * the store may become visible after the load: it goes to the holder's
 * store buffer (`sole_pending`), which drains at any time (process
 * `memory`), before the holder's next store (stores stay in program
 * order: the later ones are releases), and at its death (a process's
 * stores are visible once its death is observed). The revoker's heavy
 * barrier (membarrier: a full barrier on every CPU that runs a thread of
 * the holder's process) drains every buffer: a state store issued before
 * the barrier is visible to the revoker's load after it, and a lease load
 * issued after the barrier sees the revoker's CAS. Every other access is
 * sequentially consistent (the seq_cst RMWs and loads of slot owners and
 * the lease make the attach / acquire pair a plain Dekker), and the
 * holder's release stores of head and state pair with the revoker's
 * acquire load of state, which is modelled by their program order.
 *
 * Weakened variants (each must be caught):
 *   -DPLAIN_TAKE        the take is a check of head then a separate store (no CAS)
 *   -DSLOT_AFTER_TAKE   the reader slot is written only after the CAS succeeded
 *   -DEARLY_REUSE       the producer reuses a unit one record too early
 *   -DREAD_AFTER_TAKE   the consumer reads the record after its CAS
 *   -DLEASE and
 *   -DNO_REVOKE_WAIT    the revoker does not wait for the holder's SOLE to clear
 *   -DNO_HEAVY_BARRIER  the revoker skips the heavy barrier
 *   -DACQUIRE_NO_SCAN   the acquirer is sole without looking at the other slots
 *   -DNO_DEAD_CHECK     the revoker waits for SOLE to clear even if the holder is dead
 *   -DOWN_IS_HELD       (with -DTAKEOVER) a lease equal to our slot's value at attach is
 *                       taken as ours: sole without the CAS and the scan
 * Coverage probes (-DLEASE -DREACH=k; each must fail, which shows that the
 * configuration reaches the case): 1 a revoker finds a live holder mid-take
 * and must wait; 2 (3) a consumer finishes the revocation of a killed
 * revoker after the holder was killed mid-take, having found the lease its
 * own, before (after) its head store; 4 (-DTAKEOVER) a consumer takes over
 * the slot of a dead holder and finds the lease equal to its own value.
 *
 * Properties (assertions and the invalid-end-state check):
 *   - a record a consumer took is the message that was written there, whole
 *     (header and payload both its number);
 *   - each message is delivered at most once, and each consumer sees the
 *     messages in increasing order; a sole take never moves head backwards;
 *   - at the end, every message is delivered, except messages taken by
 *     killed consumers, and those are no more than what the repairer counts
 *     from the dead consumers' reader slots (reads_lost; a SOLE state counts
 *     as TRYING, as take_slot() reads it);
 *   - nobody blocks forever (invalid end states), a revoker's wait included.
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
#ifndef KILLABLE
#define KILLABLE C      /* only consumers 0 .. KILLABLE-1 may be killed */
#endif
#ifndef HOLD
#define HOLD 0          /* 1: consumers read() and hold the message until release(); 0: get_into() */
#endif
#ifndef LIGHT
#define LIGHT C         /* LEASE: consumers 0 .. LIGHT-1 may take the lease (light barriers allowed) */
#endif

#define IDLE 0
#define TRYING 1
#define HOLDING 2
#define SOLE 4          /* with TRYING: the lease holder's take, head moved by a plain store */
#define REVOKED 8       /* the lease's revoked bit; the lease is 0 or (slot + 1), with or without it */

typedef Unit {
  byte hdr;
  byte pay;
};

Unit mem[CAP];
byte T = 0;                 /* the lane's tail (published) */
byte H = 0;                 /* the lane's head (moved by consumers' CAS, or the lease holder's store) */

byte owner[C];              /* LaneReaderLayout::owner: the consumer's id + 1; 0: free */
byte slot_state[C];         /* LaneReaderLayout::state */
byte slot_from[C];          /* LaneReaderLayout::from */
bool dead[C];               /* consumer id killed */
byte delivered[N];
byte crashes_c = 0;
byte crashes_p = 0;
byte done_c = 0;            /* consumers finished or dead */
byte reads_lost = 0;

#ifdef LEASE
byte lease = 0;             /* 0: free; s + 1: the consumer in slot s holds it; | REVOKED: being revoked */
bool sole_pending[C];       /* slot s's store of TRYING|SOLE, still in its owner's store buffer */

#ifdef REACH
/* Coverage probes (-DREACH=k): ghosts that say a scenario happened, and an
 * assertion that it never does; the run must fail, which shows that its
 * configuration reaches the scenario. */
byte g_take[C];             /* consumer i: 1 from its sole take's lease load (ours) to its head store, 2 after it */
bool g_revoke[C];           /* consumer i set REVOKED and has not cleared the lease yet */
byte g_holder_killed;       /* a holder killed mid-take: g_take at its death */
bool g_revoker_killed;      /* a revoker killed mid-revocation */
#endif

#define LIVE(j) (owner[j] != 0 && !dead[owner[j] - 1])
#define HOLDER(v) ((v) % REVOKED - 1)

/* A pending store of TRYING|SOLE becomes visible. */
inline drain(j) {
  if
  :: sole_pending[j] -> slot_state[j] = TRYING | SOLE; sole_pending[j] = false
  :: else -> skip
  fi
}
/* membarrier: a full barrier on every CPU that runs a consumer, so every
 * store issued before it is visible after it. */
inline heavy_barrier() {
  drain(0);
#if C > 1
  drain(1);
#endif
#if C > 2
  drain(2);
#endif
  skip
}
#endif

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
  :: atomic { crashes_c < CRASHC && id < KILLABLE -> crashes_c++ }; goto killed \
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
  byte s = id;              /* this consumer's reader slot */
#ifdef LEASE
  byte v, o, j;
  bool sole = false;

  /* attach_consumer(): a reader slot, by a seq_cst RMW on its owner word */
#ifdef TAKEOVER
  if
  :: atomic { id == C - 1 && owner[0] != 0 && dead[owner[0] - 1] ->
       /* the dead consumer's slot 0 (attach's second pass, or freed by
        * repair_dead_readers() and taken again): take_slot() counts what it held */
       s = 0;
       owner[0] = id + 1;
       if
       :: slot_state[0] == HOLDING -> reads_lost++
       :: (slot_state[0] & TRYING) && H != slot_from[0] -> reads_lost++
       :: else -> skip
       fi;
       slot_state[0] = IDLE;
       printf("consumer %d: takes over dead slot 0 (lease %d)\n", id, lease);
#if REACH == 4
       assert(lease != s + 1)     /* the lease of the slot's dead owner is ours now */
#else
       skip
#endif
     }
  :: owner[s] = id + 1
  fi;
#else
  owner[s] = id + 1;
#endif
  MAYBE_DIE_C;
  /* A lease held by another (or being revoked: its revoker may have died)
   * is revoked before our first take. */
  v = lease;                                /* seq_cst load */
  do
  :: v == 0 -> break
  :: v == s + 1 ->                          /* a dead owner's lease on the slot we took: not ours to use */
#ifdef OWN_IS_HELD
     sole = true;
#endif
     break
  :: else ->
     if
     :: v < REVOKED ->
        atomic {                            /* CAS v -> v | REVOKED; on failure, the value found */
          if
          :: lease == v -> lease = v | REVOKED;
#ifdef REACH
             g_revoke[id] = true;
#endif
             printf("consumer %d: revokes the lease of slot %d (state %d)\n", id, HOLDER(v), slot_state[HOLDER(v)])
          :: else -> skip
          fi;
          v = lease
        };
        MAYBE_DIE_C
     :: else ->                             /* revoked, by us or by a revoker that may be dead */
        d_step {
#ifndef NO_HEAVY_BARRIER
          heavy_barrier();                  /* membarrier: stands in for the holder's fence */
          printf("consumer %d: lease %d: heavy barrier\n", id, v)
#else
          printf("consumer %d: lease %d: no heavy barrier\n", id, v)
#endif
        };
        MAYBE_DIE_C;
        atomic {
          o = owner[HOLDER(v)];
          printf("consumer %d: holder slot %d: owner %d (dead %d), state %d\n", id, HOLDER(v), o,
                 o != 0 && dead[o - 1], slot_state[HOLDER(v)])
        };
#if REACH == 1
        atomic {                            /* a live holder mid-take: the revoker must wait */
          if
          :: (slot_state[HOLDER(v)] & SOLE) && o != 0 && !dead[o - 1] ->
             printf("consumer %d: slot %d's state %d: waits\n", id, HOLDER(v), slot_state[HOLDER(v)]);
             assert(false)
          :: else -> skip
          fi
        };
#endif
        atomic {
#if defined(NO_DEAD_CHECK)
          (slot_state[HOLDER(v)] & SOLE) == 0;
#elif !defined(NO_REVOKE_WAIT)
          /* until the holder's take is over: no SOLE in its state (acquire
           * load), or its slot's owner gone, changed or dead */
          (slot_state[HOLDER(v)] & SOLE) == 0 || owner[HOLDER(v)] != o || o == 0 || dead[o - 1];
#endif
          printf("consumer %d: slot %d's state %d, owner %d: the revocation is over\n", id, HOLDER(v), slot_state[HOLDER(v)], owner[HOLDER(v)])
        };
        MAYBE_DIE_C;
        atomic {                            /* CAS v|REVOKED -> 0 (failure: another revoker did it) */
          if
          :: lease == v -> lease = 0;
             printf("consumer %d: lease %d -> 0\n", id, v);
#if REACH == 2 || REACH == 3
             /* another's revocation finished after a holder died mid-take */
             assert(!(!g_revoke[id] && g_revoker_killed && g_holder_killed == REACH - 1));
#endif
             skip
          :: else -> skip
          fi;
#ifdef REACH
          g_revoke[id] = false;
#endif
          o = 0
        };
        break
     fi
  od;
  v = 0;
#if LIGHT > 0
  /* The lease, for a process allowed light barriers: CAS 0 -> mine, then
   * every other reader slot (seq_cst loads); a live owner there: give it back. */
  if
  :: id < LIGHT ->
     atomic {
       if
       :: lease == 0 -> lease = s + 1; ok = true; printf("consumer %d: takes the lease (slot %d)\n", id, s)
       :: else -> ok = false
       fi
     };
     if
     :: ok ->
        MAYBE_DIE_C;
#ifdef ACQUIRE_NO_SCAN
        sole = true
#else
        j = 0;
        do
        :: j == C -> sole = true; break
        :: j < C && (j == s || !LIVE(j)) -> j++
        :: j < C && j != s && LIVE(j) -> break
        od;
        if
        :: sole -> j = 0
        :: else ->
           atomic {                         /* give it back: CAS mine -> 0 (REVOKED set: leave it) */
             if
             :: lease == s + 1 -> lease = 0
             :: else -> skip
             fi;
             printf("consumer %d: slot %d is live: gives the lease back (lease %d)\n", id, j, lease);
             j = 0
           }
        fi
#endif
     :: else -> skip
     fi;
     ok = false
  :: else -> skip
  fi;
#endif
  printf("consumer %d: attached in slot %d, sole %d, lease %d\n", id, s, sole, lease);
  MAYBE_DIE_C;
#endif /* LEASE */
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
#ifdef LEASE
     if
     :: sole ->
        slot_from[s] = h;
        sole_pending[s] = true;             /* state = TRYING|SOLE|what (release): may stay in the store buffer */
        MAYBE_DIE_C;
        /* light_barrier(): a compiler barrier only; the revoker's heavy barrier stands in for the fence */
        atomic {                            /* relaxed load */
          ok = (lease == s + 1);
#ifdef REACH
          g_take[id] = ok;
#endif
          printf("consumer %d: sole take of %d: state SOLE stored (still buffered: %d), loads lease %d\n",
                 id, h, sole_pending[s], lease)
        };
        MAYBE_DIE_C;
        if
        :: ok ->
           atomic {                         /* head = next: a release store (our buffer drains first), no CAS */
             drain(s);
             printf("consumer %d: sole take of %d: head %d -> %d (plain store)\n", id, h, H, h + 1);
             assert(H <= h + 1);            /* head never moves backwards */
             H = h + 1;
#ifdef REACH
             g_take[id] = 2;
#endif
#if !HOLD
             DELIVER;
#endif
             ok = false
           };
           MAYBE_DIE_C;
#if HOLD
           slot_state[s] = HOLDING;
           MAYBE_DIE_C;
           DELIVER;
           MAYBE_DIE_C;
#endif
           slot_state[s] = IDLE;
#ifdef REACH
           g_take[id] = 0;
#endif
           goto next
        :: else ->
           d_step {                         /* the lease is gone: state = TRYING|what, then the CAS take */
             drain(s);
             slot_state[s] = TRYING;
             sole = false;
#ifdef REACH
             g_take[id] = 0;
#endif
             printf("consumer %d: lease %d is not ours: CAS take of %d\n", id, lease, h)
           };
           goto cas
        fi
     :: else -> skip
     fi;
#endif
#ifndef SLOT_AFTER_TAKE
     slot_from[s] = h;
     slot_state[s] = TRYING;
#endif
cas:
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
#ifdef LEASE
       printf("consumer %d: CAS take of %d: %d\n", id, h, ok);
#endif
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
        slot_from[s] = h;
        slot_state[s] = TRYING;
#endif
#ifdef READ_AFTER_TAKE
        a = mem[h % CAP].hdr;
        b = mem[h % CAP].pay;
#endif
#if HOLD || defined(READ_AFTER_TAKE) || defined(PLAIN_TAKE)
        /* read(): held from the CAS until read() returns it to the caller */
        slot_state[s] = HOLDING;
        MAYBE_DIE_C;
        DELIVER;
        MAYBE_DIE_C;        /* the caller has it, not yet released */
#endif
        slot_state[s] = IDLE
     :: else ->
        slot_state[s] = IDLE
     fi;
next:
     skip
  od;
#ifdef LEASE
  /* detach_consumer(): state idle, the lease given back (CAS mine -> 0), the slot freed */
  atomic {
    if
    :: lease == s + 1 -> lease = 0
    :: else -> skip
    fi
  };
  owner[s] = 0;
#endif
  done_c++;
  goto end;
killed:
#ifdef LEASE
  atomic {                  /* a process's stores are visible once its death is observed */
    drain(s);
#ifdef REACH
    if
    :: g_take[id] != 0 -> g_holder_killed = g_take[id]
    :: else -> skip
    fi;
    if
    :: g_revoke[id] -> g_revoker_killed = true
    :: else -> skip
    fi;
#endif
    printf("consumer %d: killed (slot %d state %d, from %d; head %d, lease %d)\n", id, s, slot_state[s], slot_from[s], H, lease);
    dead[id] = true
  };
#else
  dead[id] = true;
#endif
  done_c++;
end:
  skip
}

#ifdef LEASE
/* A pending store becomes visible at any time. */
proctype memory() {
end:
  do
  :: d_step { sole_pending[0] -> slot_state[0] = TRYING | SOLE; sole_pending[0] = false }
#if C > 1
  :: d_step { sole_pending[1] -> slot_state[1] = TRYING | SOLE; sole_pending[1] = false }
#endif
#if C > 2
  :: d_step { sole_pending[2] -> slot_state[2] = TRYING | SOLE; sole_pending[2] = false }
#endif
  od
}
#endif

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
     :: owner[i] != 0 && dead[owner[i] - 1] && slot_state[i] == HOLDING -> reads_lost++
     :: owner[i] != 0 && dead[owner[i] - 1] && (slot_state[i] & TRYING) && H != slot_from[i] -> reads_lost++
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
#ifdef LEASE
    printf("lane: %d messages, lane of %d, %d consumers (%d may hold the lease), %d may be killed\n", N, CAP, C, LIGHT, CRASHC);
#endif
    run producer();
    i = 0;
    do
    :: i == C -> break
    :: else ->
#ifndef LEASE
       owner[i] = i + 1;    /* attached from the start */
#endif
       run consumer(i); i++
    od;
#ifdef LEASE
    run memory()
#endif
  }
}
