/* wakeone.pml: notify_one() of core/include/shmring/blocking/blocking.hpp, the
 * wake-one side of the eventcount used by MPMC queues (Queue: a commit wakes
 * one consumer parked on not_empty, a pop one producer parked on not_full).
 *
 * W waiters run wait_until() (as in wakeup.pml) and each wants WANT[i]
 * messages; M notifiers publish K messages each and call notify_one() after
 * each. F is ParkingLayout::sleeping, now an epoch mark: a waiter sets
 * F = sleep_mark(q) = q + 1 where q is the sequence it read; Q is
 * ParkingLayout::sequence, the futex word.
 *
 *   waiter (wait_until)                    notifier (notify_one)
 *   q = Q                  (acquire)       store S               (release)
 *   F = max(F, q + 1)      (CAS loop)      fence(seq_cst)
 *   fence(seq_cst)                         f = F; if f == 0: return
 *   if ready(): done                       Q += 1                (release)
 *   futex_wait(Q, q)                       if futex_wake(Q, 1) == 0: CAS(F, f -> 0)
 *
 * futex_wake(Q, 1) wakes exactly one parked waiter (any of them: the kernel's
 * order is not relied on) and returns how many it woke (0 or 1).
 *
 * Memory: as wakeup.pml. The notifier's store of S and the waiter's store of
 * F go through store buffers drained at any time by `memory`; a fence drains
 * its own thread's buffer, futex_wait drains the caller's (the kernel's
 * smp_mb before the compare); read-modify-writes (fetch_add, CAS) drain their
 * thread's buffer and act on memory. A waiter's store of its mark coalesces
 * with its own earlier pending mark.
 *
 * Waiters' predicates:
 *   default     ready() = a message is untaken (not_empty: every consumer
 *               waits for the same thing); waiter i takes one message at a
 *               time, WANT[i] in all, by an atomic claim on `taken`.
 *   -DHETERO    waiter 0 needs two units at once, waiter 1 one unit (not_full:
 *               producers waiting for room for messages of different sizes;
 *               S counts units of room freed by the notifiers, consumers).
 *
 * Weakened variants (each must be caught):
 *   -DSTORE_MARK    the waiter stores its mark (the first version of the code:
 *                   a waiter that read Q before a bump overwrites a newer mark,
 *                   which the notifier's CAS then clears — found by this model)
 *   -DSTORE_CLEAR   the notifier clears with a plain store F = 0, not a CAS
 *   -DCLEAR_LE1     the notifier clears whenever futex_wake returns <= 1
 *                   (always: wake-one with notify()'s exchange semantics)
 *
 * Property: no lost wakeup. When nothing can move (`timeout`), the watchdog
 * asserts that no waiter is parked while what it waits for is there; spin's
 * invalid-end-state check flags any other stuck process; the LTL claim
 * `satisfied` (<> every waiter got what it wanted) is checked under weak
 * fairness.
 */

#ifndef K
#define K 1              /* messages per notifier */
#endif
#ifndef W
#define W 2              /* waiters (1 .. 3) */
#endif
#ifndef M
#define M 2              /* notifiers (1 or 2) */
#endif
#define TOTAL (K * M)

byte S[M];               /* memory: messages (units of room) published by each notifier */
byte F = 0;              /* ParkingLayout::sleeping: 0, or a waiter's sleep_mark(q) */
byte Q = 0;              /* ParkingLayout::sequence (the futex word) */

bool s_pending[M];       /* notifier i's store of S[i], not yet visible */
byte s_value[M];
bool f_pending[W];       /* waiter i's store of its mark, not yet visible */
byte f_value[W];

bool asleep[W];          /* waiter i is parked inside futex_wait */
byte taken = 0;          /* messages (units) taken by all waiters */
byte got[W];             /* what each waiter has taken */
byte want[W];            /* what each waiter wants in all */
byte need[W];            /* what one wait of waiter i needs (HETERO: 2 for waiter 0) */
byte wakes = 0;          /* futex_wake calls (statistic) */
bool started = false;    /* init has set want[] */

#if M == 1
#define PUBLISHED (S[0])
#else
#define PUBLISHED (S[0] + S[1])
#endif
#define READY(i) (PUBLISHED >= taken + need[i])   /* waiter i's ready() */
#define DONE(i)  (got[i] == want[i])

inline drain_notifier(i) { if :: s_pending[i] -> S[i] = s_value[i]; s_pending[i] = false :: else -> skip fi }
inline drain_waiter(i)   { if :: f_pending[i] -> F = f_value[i]; f_pending[i] = false :: else -> skip fi }

/* wait_until(park, ready), then take what it waited for */
proctype waiter(byte me) {
  byte q;
  do
  :: DONE(me) -> break
  :: else ->
    if
    :: READY(me) -> goto take                             /* the spin phase */
    :: else -> skip
    fi;
    do
    :: READY(me) -> break                                 /* ready() at the top of the park loop */
    :: else ->
      q = Q;                                              /* SYNC(park) acquire: Q before F */
#ifndef STORE_MARK
      d_step { if :: F < q + 1 -> F = q + 1 :: else -> skip fi };  /* raise_mark(): F = max(F, mark), a CAS loop */
#else
      d_step { f_pending[me] = true; f_value[me] = q + 1 };   /* the first version: F = sleep_mark(q), a plain store */
#endif
      printf("waiter %d: read Q = %d, stores F = %d\n", me, q, q + 1);
      d_step { drain_waiter(me) };                        /* atomic_thread_fence(seq_cst) */
      if
      :: READY(me) -> break                               /* the last ready() */
      :: else -> skip
      fi;
      printf("waiter %d: futex_wait(Q, %d) with Q = %d, F = %d, published %d, taken %d\n", me, q, Q, F, PUBLISHED, taken);
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
    atomic {                                              /* the claim of what it waited for */
      if
      :: READY(me) -> taken = taken + need[me]; got[me] = got[me] + 1;
         printf("waiter %d: takes %d (taken %d)\n", me, need[me], taken)
      :: else -> skip                                     /* another waiter took it */
      fi
    }
  od
}

/* publish, then notify_one() */
proctype notifier(byte me) {
  byte n = 0;
  byte f, woken, i;
  do
  :: n == K -> break
  :: else ->
    n = n + 1;
    d_step { drain_notifier(me); s_pending[me] = true; s_value[me] = n };  /* store S (release) */
    d_step { drain_notifier(me) };                                         /* atomic_thread_fence(seq_cst) */
    f = F;                                                                 /* relaxed load */
    printf("notifier %d: message %d published, loads F = %d\n", me, n, f);
    if
    :: f == 0 -> printf("notifier %d: message %d published, F == 0: no wake\n", me, n); goto next
    :: else -> skip
    fi;
    d_step { drain_notifier(me); Q = Q + 1 };                              /* fetch_add(1), release */
    printf("notifier %d: Q -> %d\n", me, Q);
    /* futex_wake(Q, 1): wakes one parked waiter, any of them */
    woken = 0;
    atomic {
      wakes = wakes + 1;
      if
      :: asleep[0] -> asleep[0] = false; woken = 1; i = 0
#if W > 1
      :: asleep[1] -> asleep[1] = false; woken = 1; i = 1
#endif
#if W > 2
      :: asleep[2] -> asleep[2] = false; woken = 1; i = 2
#endif
      :: else -> skip
      fi
    };
    if
    :: woken == 1 -> printf("notifier %d: futex_wake(1) woke waiter %d\n", me, i)
    :: else -> printf("notifier %d: futex_wake(1) woke nobody\n", me)
    fi;
#if defined(CLEAR_LE1)
    if
    :: woken <= 1 -> d_step { if :: F == f -> F = 0 :: else -> skip fi }  /* CAS(F, f -> 0) */
    :: else -> skip
    fi;
#elif defined(STORE_CLEAR)
    if
    :: woken == 0 -> F = 0                                                 /* plain store */
    :: else -> skip
    fi;
#else
    if
    :: woken == 0 -> d_step { if :: F == f -> F = 0 :: else -> skip fi }   /* CAS(F, f -> 0) */
    :: else -> skip
    fi;
#endif
    printf("notifier %d: F now %d\n", me, F);
next:
    f = 0; woken = 0; i = 0
  od
}

proctype memory() {
end:
  do
  :: d_step { s_pending[0] -> S[0] = s_value[0]; s_pending[0] = false }
#if M > 1
  :: d_step { s_pending[1] -> S[1] = s_value[1]; s_pending[1] = false }
#endif
  :: d_step { f_pending[0] -> F = f_value[0]; f_pending[0] = false }
#if W > 1
  :: d_step { f_pending[1] -> F = f_value[1]; f_pending[1] = false }
#endif
#if W > 2
  :: d_step { f_pending[2] -> F = f_value[2]; f_pending[2] = false }
#endif
  od
}

/* When nothing can move, no waiter may be parked while what it waits for is there. */
proctype watchdog() {
  byte i;
end:
  timeout ->
    printf("stuck: published %d, taken %d, wakes %d\n", PUBLISHED, taken, wakes);
    for (i : 0 .. W - 1) {
      if
      :: asleep[i] && READY(i) ->
        printf("waiter %d parked for ever although its ready() holds (needs %d)\n", i, need[i])
      :: else -> skip
      fi;
      assert(!(asleep[i] && READY(i)))
    }
}

init {
  byte i;
  atomic {
    /* what each waiter wants: TOTAL units shared out */
#ifdef HETERO
    /* waiter 0 needs 2 units per wait, waiter 1 one unit; TOTAL = 3 */
    need[0] = 2; want[0] = 1;
    need[1] = 1; want[1] = TOTAL - 2;
#else
    for (i : 0 .. W - 1) { need[i] = 1; want[i] = TOTAL / W };
    want[0] = want[0] + TOTAL % W;
#endif
    started = true;
    for (i : 0 .. W - 1) { run waiter(i) };
    for (i : 0 .. M - 1) { run notifier(i) };
    run memory();
    run watchdog()
  }
}

#if W == 1
#define ALL_DONE (started && DONE(0))
#elif W == 2
#define ALL_DONE (started && DONE(0) && DONE(1))
#else
#define ALL_DONE (started && DONE(0) && DONE(1) && DONE(2))
#endif
ltl satisfied { <> ALL_DONE }
