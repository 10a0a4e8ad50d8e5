/* wakeup.pml: the spin-then-park protocol of core/include/shmring/blocking/blocking.hpp
 * (wait_until() and notify(), an eventcount on ParkingLayout).
 *
 * W waiters (consumers parked on "not empty") take messages; M notifiers
 * (producers) publish K messages each, calling notify() after each. S is
 * the state the waiters' predicate reads (each notifier's count of published
 * messages, as a ring's tail); `taken` is the consumers' shared count (an
 * atomic claim, as an MPMC consumer's). F is ParkingLayout::sleeping; Q is
 * ParkingLayout::sequence, the futex word. The Queue today has W = M = 1 per
 * parking word (one producer role, one consumer role); W = M = 2 covers the
 * comment's "second notifier" case and several sleepers sharing one flag.
 *
 * Memory. Promela is sequentially consistent; the protocol exists because
 * real processors and the C++ model are not: a store may become visible
 * after the same thread's later loads of other locations (store -> load
 * reordering, the one x86-TSO allows too). Each side's store that matters
 * is therefore modelled through a store buffer:
 *   the notifier's store of S   (the caller's release store of tail)
 *   the waiter's store F = 1    (a seq_cst store does not order later
 *                                acquire loads of other locations; the fence does)
 * A pending store drains at any time (process `memory`). A seq_cst fence
 * drains its own thread's buffer; membarrier (heavy_barrier) drains every
 * buffer; the kernel's futex_wait executes a full barrier (smp_mb) before it
 * compares the word, so it drains the caller's buffer; read-modify-writes
 * (exchange, fetch_add) act on memory after draining their own thread's
 * buffer (release).
 *
 * futex_wait(Q, q) is an atomic compare-and-sleep: if Q == q the waiter is
 * asleep until a futex_wake; else it returns at once. futex_wake makes the
 * sleeping waiter runnable. No timeouts (the deadline is "never") and no
 * spurious wakeups: both could only hide a lost wakeup.
 *
 * Barrier plans (BarrierPlan):
 *   default        seq_cst fences on both sides
 *   -DASYMMETRIC   notifier_light (compiler barrier only) + waiter_heavy (membarrier)
 *
 * Weakened variants (each must be caught):
 *   -DOLD_ORDER          the waiter sets F before it reads Q (the first version)
 *   -DNO_WAITER_FENCE    no fence between the waiter's F = 1 and its last pred()
 *   -DNO_NOTIFIER_FENCE  no fence between the notifier's S store and its load of F
 *   -DASYMMETRIC -DNO_HEAVY_BARRIER   light notifiers, but the waiter omits membarrier
 *
 * Property: no lost wakeup. No waiter sleeps forever while a message is
 * there: when nothing in the system can move (`timeout`), the watchdog
 * asserts that no waiter is parked while a published message is untaken;
 * spin's invalid-end-state check flags any other stuck process; and the LTL
 * claim `drained` (<> every message taken) is checked for acceptance cycles
 * under weak fairness.
 */

#ifndef K
#define K 3              /* messages per notifier */
#endif
#ifndef W
#define W 1              /* waiters (1 or 2) */
#endif
#ifndef M
#define M 1              /* notifiers (1 or 2) */
#endif
#define TOTAL (K * M)

byte S[M];               /* memory: messages published by each notifier */
byte F = 0;              /* ParkingLayout::sleeping */
byte Q = 0;              /* ParkingLayout::sequence (the futex word) */

bool s_pending[M];       /* notifier i's store of S[i], not yet visible */
byte s_value[M];
bool f_pending[W];       /* waiter i's store F = 1, not yet visible */

bool asleep[W];          /* waiter i is parked inside futex_wait */
byte taken = 0;          /* messages taken by all waiters */

#if M == 1
#define PUBLISHED (S[0])
#else
#define PUBLISHED (S[0] + S[1])
#endif
#define READY (PUBLISHED > taken)          /* the waiters' ready() */
#if W == 1
#define ANY_ASLEEP (asleep[0])
#else
#define ANY_ASLEEP (asleep[0] || asleep[1])
#endif

inline drain_notifier(i) { if :: s_pending[i] -> S[i] = s_value[i]; s_pending[i] = false :: else -> skip fi }
inline drain_waiter(i)   { if :: f_pending[i] -> F = 1; f_pending[i] = false :: else -> skip fi }
inline drain_all() {
  for (j : 0 .. M - 1) { drain_notifier(j) };
  for (j : 0 .. W - 1) { drain_waiter(j) };
  j = 0
}

/* wait_until(park, ready), then take a message */
proctype waiter(byte me) {
  byte q, j;
  do
  :: taken == TOTAL -> break
  :: else ->
    /* the spin phase: ready() */
    if
    :: READY -> goto take
    :: else -> skip
    fi;
    do
    :: READY -> break                                 /* ready() at the top of the park loop */
    :: else ->
#ifdef OLD_ORDER
      d_step { drain_waiter(me); f_pending[me] = true };  /* F = 1 (seq_cst store) */
      q = Q;                                              /* then the futex word (acquire) */
      printf("waiter %d: F = 1 (store), then reads Q = %d\n", me, q);
#else
      q = Q;                                              /* SYNC(park) acquire: Q before F */
      d_step { drain_waiter(me); f_pending[me] = true };  /* F = 1 (seq_cst store) */
      printf("waiter %d: reads Q = %d, then F = 1 (store)\n", me, q);
#endif
#ifndef NO_WAITER_FENCE
      d_step { drain_waiter(me) };                        /* atomic_thread_fence(seq_cst) */
#endif
#if defined(ASYMMETRIC) && !defined(NO_HEAVY_BARRIER)
      d_step { drain_all() };                             /* heavy_barrier(): membarrier */
#endif
      if
      :: READY -> break                                   /* the last ready() */
      :: else -> skip
      fi;
      printf("waiter %d: futex_wait(Q, %d) with Q = %d, published %d, taken %d\n", me, q, Q, PUBLISHED, taken);
      d_step {                                            /* futex_wait(Q, q): smp_mb, compare, sleep */
        drain_waiter(me);
        if
        :: Q == q -> asleep[me] = true
        :: else -> skip
        fi
      };
end_parked:
      !asleep[me]                                         /* parked until a futex_wake */
    od;
take:
    atomic {                                              /* the consumer's claim of one message */
      if
      :: READY -> taken = taken + 1; printf("waiter %d: takes a message (taken %d)\n", me, taken)
      :: else -> skip                                     /* another waiter took it */
      fi
    }
  od
}

/* put(): publish a message, then notify(not_empty) */
proctype notifier(byte me) {
  byte n = 0;
  byte old;
  do
  :: n == K -> break
  :: else ->
    n = n + 1;
    d_step { drain_notifier(me); s_pending[me] = true; s_value[me] = n };  /* store S (release) */
#if !defined(ASYMMETRIC) && !defined(NO_NOTIFIER_FENCE)
    d_step { drain_notifier(me) };                                         /* atomic_thread_fence(seq_cst) */
#endif
    /* ASYMMETRIC: light_barrier(), a compiler barrier: nothing drains */
    if
    :: F == 0 -> printf("notifier %d: message %d published, F == 0: no wake\n", me, n); goto next
    :: else -> skip
    fi;
    d_step { drain_notifier(me); old = F; F = 0 };                         /* exchange(0), acq_rel */
    if
    :: old == 0 -> printf("notifier %d: message %d, F already taken: no wake\n", me, n); goto next
    :: else -> skip
    fi;
    d_step { drain_notifier(me); Q = Q + 1 };                              /* fetch_add(1), release */
    printf("notifier %d: message %d, took F, Q -> %d, futex_wake\n", me, n, Q);
    d_step { for (old : 0 .. W - 1) { asleep[old] = false } };             /* futex_wake(Q, all) */
next:
    skip
  od
}

/* Pending stores become visible at any time. */
proctype memory() {
end:
  do
  :: d_step { s_pending[0] -> S[0] = s_value[0]; s_pending[0] = false }
#if M > 1
  :: d_step { s_pending[1] -> S[1] = s_value[1]; s_pending[1] = false }
#endif
  :: d_step { f_pending[0] -> F = 1; f_pending[0] = false }
#if W > 1
  :: d_step { f_pending[1] -> F = 1; f_pending[1] = false }
#endif
  od
}

/* When nothing can move, no waiter may be parked with a message untaken.
 * (-DNO_WATCHDOG leaves the lost wakeup to the LTL claim alone.) */
proctype watchdog() {
end:
  timeout ->
    printf("stuck: published %d, taken %d, a waiter parked: %d\n", PUBLISHED, taken, ANY_ASLEEP);
    assert(!(ANY_ASLEEP && READY))
}

init {
  byte i;
  atomic {
    for (i : 0 .. W - 1) { run waiter(i) };
    for (i : 0 .. M - 1) { run notifier(i) };
    run memory();
#ifndef NO_WATCHDOG
    run watchdog()
#endif
  }
}

ltl drained { <> (taken == TOTAL) }
