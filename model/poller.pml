/* poller.pml: the event-loop descriptor of core/include/shmring/blocking/poller.hpp
 * (Poller::rearm()) against notify()'s pollers' half (poke_pollers(),
 * blocking.hpp).
 *
 * One event loop (the poller) consumes what M notifiers (producers) publish,
 * K messages each, notifying after each. S is the state the poller's
 * predicate reads (each notifier's count of published messages); `taken` is
 * what the loop took. A is the poller's bit in ParkingLayout::armed; `sock`
 * counts the datagrams queued on the poller's socket: the descriptor is
 * readable while sock > 0.
 *
 * The loop, as an event loop uses the descriptor: re-arm (fileno() at the
 * start, then each get_nowait that finds the queue empty); wait until the
 * descriptor is readable (epoll_wait); take until empty; re-arm; ...
 *
 *   rearm:   drain the socket (sock = 0)
 *            A = 1                (fetch_or, seq_cst)
 *            fence(seq_cst)       (ASYMMETRIC: membarrier instead)
 *            if ready(S): if (A &= ~bit) had the bit: poke self (sock++)
 *   notify:  store S              (release, by the caller)
 *            fence(seq_cst)       (ASYMMETRIC: a compiler barrier only)
 *            if A == 0: return
 *            if A.exchange(0) had the bit: poke (sock++)
 *
 * Memory, as in wakeup.pml: the notifier's store of S and the poller's store
 * of its bit go through store buffers (a pending store drains at any time,
 * process `memory`); a fence drains its own thread's buffer; membarrier
 * drains every buffer; a read-modify-write acts on memory after draining its
 * own thread's buffer. (The bit is set by a read-modify-write in the code; it
 * is modelled as a buffered store, which is weaker, so the fence is what
 * the model relies on, as the code does.) Sending a datagram and draining the
 * socket are system calls: the kernel orders them (each drains its caller's
 * buffer).
 *
 * Weakened variants (each must be caught):
 *   -DNO_POLLER_FENCE      no fence between setting the bit and the last ready()
 *   -DNO_NOTIFIER_FENCE    no fence between the notifier's store of S and its load of A
 *   -DNO_SELF_POKE         ready() after arming, but no poke of its own
 *   -DDRAIN_AFTER_ARM      the socket drained after the bit is set
 *   -DASYMMETRIC -DNO_HEAVY_BARRIER   light notifiers, and the poller omits membarrier
 *
 * Property: no lost readiness. When nothing can move (`timeout`), the loop
 * is not asleep in epoll_wait while a published message is untaken
 * (watchdog); and the LTL claim `drained` (<> every message taken) holds
 * under weak fairness.
 */

#ifndef K
#define K 2              /* messages per notifier */
#endif
#ifndef M
#define M 1              /* notifiers (1 or 2) */
#endif
#define TOTAL (K * M)

byte S[M];               /* memory: messages published by each notifier */
byte A = 0;              /* the poller's bit in ParkingLayout::armed */
byte sock = 0;           /* datagrams queued on the poller's socket */

bool s_pending[M];       /* notifier i's store of S[i], not yet visible */
byte s_value[M];
bool a_pending = false;  /* the poller's store A = 1, not yet visible */

bool in_epoll = false;   /* the loop waits in epoll_wait */
byte taken = 0;

#if M == 1
#define PUBLISHED (S[0])
#else
#define PUBLISHED (S[0] + S[1])
#endif
#define READY (PUBLISHED > taken)

inline drain_notifier(i) { if :: s_pending[i] -> S[i] = s_value[i]; s_pending[i] = false :: else -> skip fi }
inline drain_poller()    { if :: a_pending -> A = 1; a_pending = false :: else -> skip fi }
inline drain_all() {
  for (j : 0 .. M - 1) { drain_notifier(j) };
  drain_poller();
  j = 0
}

proctype poller() {
  byte old, j;
rearm:
  skip;
#ifndef DRAIN_AFTER_ARM
  d_step { drain_poller(); sock = 0 };                 /* drain the socket (recvmmsg) */
#endif
  d_step { drain_poller(); a_pending = true };         /* armed |= bit */
#ifdef DRAIN_AFTER_ARM
  d_step { drain_poller(); sock = 0 };
#endif
#if !defined(NO_POLLER_FENCE) && !defined(ASYMMETRIC)
  d_step { drain_poller() };                           /* atomic_thread_fence(seq_cst) */
#endif
#if defined(ASYMMETRIC) && !defined(NO_HEAVY_BARRIER)
  d_step { drain_all() };                              /* heavy_barrier(): membarrier */
#endif
  if
  :: READY ->
#ifndef NO_SELF_POKE
    d_step { drain_poller(); old = A; A = 0 };         /* fetch_and(~bit), acq_rel */
    if
    :: old != 0 -> sock = sock + 1; printf("poller: ready after arming, took its bit back, pokes itself\n")
    :: else -> printf("poller: ready after arming, a notifier took the bit: its poke is coming\n")
    fi
#else
    skip
#endif
  :: else -> skip
  fi;
  /* the event loop: wait until readable, then take until empty */
  do
  :: taken == TOTAL -> goto done
  :: else ->
    in_epoll = true;
    printf("poller: epoll_wait (sock %d, published %d, taken %d)\n", sock, PUBLISHED, taken);
end_epoll:
    sock > 0;                                          /* epoll_wait returns: readable */
    in_epoll = false;
    do
    :: READY -> taken = taken + 1; printf("poller: takes a message (taken %d)\n", taken)
    :: else -> break                                   /* get_nowait: empty */
    od;
    goto rearm                                         /* the empty get_nowait re-arms */
  od;
done:
  skip
}

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
    if
    :: A == 0 -> printf("notifier %d: message %d, no bit armed\n", me, n); goto next
    :: else -> skip
    fi;
    d_step { drain_notifier(me); old = A; A = 0 };                         /* exchange(0), acq_rel */
    if
    :: old != 0 -> d_step { drain_notifier(me); sock = sock + 1 };         /* poke: sendto */
      printf("notifier %d: message %d, took the bit, pokes\n", me, n)
    :: else -> skip
    fi;
next:
    skip
  od
}

proctype memory() {
end:
  do
  :: d_step { s_pending[0] -> S[0] = s_value[0]; s_pending[0] = false }
#if M > 1
  :: d_step { s_pending[1] -> S[1] = s_value[1]; s_pending[1] = false }
#endif
  :: d_step { a_pending -> A = 1; a_pending = false }
  od
}

proctype watchdog() {
end:
  timeout ->
    printf("stuck: published %d, taken %d, in epoll_wait: %d, sock %d\n", PUBLISHED, taken, in_epoll, sock);
    assert(!(in_epoll && READY))
}

init {
  byte i;
  atomic {
    run poller();
    for (i : 0 .. M - 1) { run notifier(i) };
    run memory();
#ifndef NO_WATCHDOG
    run watchdog()
#endif
  }
}

ltl drained { <> (taken == TOTAL) }
