/* mpmc_ring.pml: the MPMC byte ring of core/include/shmring/engine/mpmc_ring.hpp
 * (claim/commit/skip on per-record state words, the `released` walk, the
 * hazards every header CAS runs under, and the repairs of dead participants).
 *
 * P producers put K messages each (claim() + commit(), nondeterministic
 * sizes, and a commit of fewer bytes than claimed); C consumers take them
 * (front() + pop()) until every message is taken or given up. A unit is one
 * kMpmcAlign = 16 bytes; a record is its header (one unit: state + meta) and
 * its payload units. Positions are in units and grow without bound, as the
 * code's byte positions do; a record's tag is its position itself (the code
 * keys it: tag(pos) = pos/16 ^ key), so a stale position fails every CAS on
 * a whole header of another lap.
 *
 * Reuse: a payload unit of a later lap written over a unit that held a header
 * leaves the old state word's tag bytes standing in the code and rewrites its
 * kind and owner with payload bytes. In the model a payload store leaves
 * sk/st/so as they were (a read sees the old word) and marks the unit as
 * payload in memory (py != 0 once it lands; a state word landing clears it);
 * a CAS expecting tag p then succeeds on such a unit whenever st == p,
 * whatever kind and owner it expects (CAS_MATCHES: the worst case of one
 * payload byte recreating the expected word). Hazards (protect()): before
 * every header CAS (claim, take, both repair takeovers) the participant
 * stores hz[me] = p, then loads `released` and backs off if it is past p,
 * then CASes, then clears hz[me] -- four separate steps. refresh_released(),
 * after its load or CAS of `released`, loads the hazards and lets its
 * producer reuse units only below the lowest one below `released` (lim,
 * reuse_limit_; rc is released_cache_); the owner of that hazard is the
 * blocker of a producer waiting for room, whose hazard it clears once the
 * owner is dead (repair_hazard). The consumer's hazard is cleared after its
 * CAS whether it won or not (the code keeps it while its walk goes on: a
 * longer hazard only holds producers back more).
 *
 * Participants: producers are 0 .. P-1, consumers P .. P+C-1 (the owner
 * index in claimed/reading words). The owner field of empty, committed and
 * consumed words is 0 here (the code leaves the last owner in consumed; no
 * comparison looks at it).
 *
 * Crashes: the `killer` may kill up to CRASHP producers and CRASHC consumers
 * at any step (a crashed process stops; its pending stores still land: a
 * dead process's CPU drains its store buffer, and death is proved only
 * through the kernel, after that). A live participant blocked behind a dead
 * one (claim(): busy or full with a blocker; front(): empty with a claimed
 * blocker) repairs the record once the owner is dead, as the Queue's
 * check_blocker() does after proving death; repairers may die too.
 *
 * Memory: loads, consumers' stores, hazard stores and every read-modify-write
 * are sequentially consistent (the code's hazard store, its load of
 * `released`, refresh's CAS of `released` and its hazard loads are
 * seq_cst). The producers' relaxed stores of meta, the next header and the
 * payload go through a per-producer store buffer (one pending value per
 * unit and field) that drains in any order at any time; a release
 * store (tail, commit's state, padding's consumed) or an RMW drains the
 * producer's buffer first. Repairs store sequentially consistently.
 *
 * Properties (assertions, spin's invalid-end-state check, LTL `finished`):
 *  - exactly once, FIFO per producer: the CAS committed -> reading takes
 *    message n of producer p only if it took n - 1 of p before (no loss, no
 *    duplicate, in order, across all consumers); at the end every message is
 *    taken or was never committed (its producer died first), and every taken
 *    message was delivered (copied out) except those a crashed consumer held
 *    (counted in `lost`, at most one per crashed consumer);
 *  - no consumer reads a payload not fully written: every payload unit it
 *    copies carries the record's message id in memory;
 *  - no producer (or repairer) overwrites a record not yet consumed: a store
 *    to position p in a new lap needs the unit's previous position consumed
 *    (ghost `ulap`/`ucons`);
 *  - no header CAS (claim, take, repair takeovers) succeeds on a unit whose
 *    bytes belong to a later lap: at a successful CAS at position p the
 *    unit's last store was for p (ghost `ulap`; `cas_won`);
 *  - the code's corruption checks (`corrupt` returns) never fire, tail never
 *    moves backwards;
 *  - no wedge: every blocked participant waits for something that another
 *    live one will change, or for a death it then repairs, a dead
 *    participant's hazard included (invalid end states); liveness: <> every
 *    participant finished (weak fairness).
 *
 * Weakened variants (each must be caught):
 *   -DTAIL_BEFORE_NEXT   claim() stores tail before writing the next header
 *   -DNO_HEAD_BOUND      refresh_released() walks up to the tail, not the head
 *   -DNO_TAKEOVER        repair_producer() checks the word instead of taking
 *                        it over by CAS (two repairers both repair)
 *   -DSHRINK_ALWAYS      repair_producer() shrinks the record (tail = pos + 16)
 *                        even when the dead owner had moved the tail
 *   -DCONSUMED_BEFORE_COPY  pop() (state = consumed) before the payload copy
 *   -DRELAXED_TAIL       the tail store does not drain the store buffer
 *   -DRELAXED_COMMIT     the commit store does not drain the store buffer
 *   -DNO_HAZARD          the check of `released` before each CAS without a
 *                        hazard (stale(); refresh reuses up to `released`)
 *   -DHAZARD_AFTER_CHECK the hazard is stored after the load of `released`
 *
 * Options: -DSC_STORES (no store buffer), -DFIXED_SIZE (every put MAXP units,
 * committed whole), -DSIZE_PLAN (the last producer's first put 0 units,
 * every other MAXP, committed whole: with CAP=4 the header at unit 1 is
 * under the next lap's payload after three records), -DMAXU=n (the largest payload the
 * consumer's check accepts; CAP=4 with MAXU=1 is one unit above
 * max_payload_for() and still within what the room argument needs: record,
 * wrap padding and next header take at most 2 * record units <= CAP),
 * -DNO_LAP_ASSERT (leaves out the ghost assertion at a CAS, so a run goes on
 * to the duplicate take or moved tail that follows it).
 */

#ifndef P
#define P 2              /* producers (1 or 2) */
#endif
#ifndef C
#define C 2              /* consumers (1 or 2) */
#endif
#ifndef K
#define K 2              /* messages per producer */
#endif
#ifndef CAP
#define CAP 8            /* ring units (capacity_ = 16 * CAP bytes) */
#endif
#ifndef MAXU
#define MAXU (CAP / 2 - 2)   /* max_payload_for(): capacity / 2 - 2 * kHeader, in units */
#endif
#ifndef MAXP
#define MAXP 1           /* payload units a put chooses from: 0 .. MAXP (<= MAXU) */
#endif
#ifndef CRASHP
#define CRASHP 1         /* producers the killer may kill */
#endif
#ifndef CRASHC
#define CRASHC 1         /* consumers the killer may kill (< C) */
#endif
#define NP (P + C)
#define TOTAL (P * K)

/* record kinds (RecordKind); 0: bytes that were never a header */
#define GARB      0
#define EMPTY     1
#define CLAIMED   2
#define COMMITTED 3
#define READING   4
#define CONSUMED  5
#define PAD 64           /* kPaddingFlag in meta's length: PAD | units */
#define NONE 255

/* the ring as memory holds it */
byte sk[CAP];            /* state word: kind */
byte st[CAP];            /*             tag (the position) */
byte so[CAP];            /*             owner */
byte ml[CAP];            /* meta: payload units, or PAD | record units */
byte mg[CAP];            /* meta, ghost: the message id (1 + p * K + n; 0 for padding) */
byte py[CAP];            /* a payload unit's contents: the message id */

byte hz[NP];             /* MpmcParticipantLayout::hazard: a position, NONE: none */

byte T = 0;              /* MpmcRingLayout::tail */
byte H = 0;              /* MpmcRingLayout::head */
byte R = 0;              /* MpmcRingLayout::released */

/* the producers' store buffers, index p * CAP + unit */
bool bs[P * CAP]; byte bsk[P * CAP]; byte bst[P * CAP];   /* pending state word (owner: 0 or p) */
bool bm[P * CAP]; byte bml[P * CAP]; byte bmg[P * CAP];   /* pending meta */
bool bp[P * CAP]; byte bpy[P * CAP];                      /* pending payload unit */
byte bso[P * CAP];

/* participants */
bool kill[NP];           /* the killer chose this one */
bool dead[NP];           /* crashed (proved dead) */
bool fin[NP];            /* finished or dead */
byte nfin = 0;

/* ghosts */
byte ulap[CAP];          /* the position a unit last held */
bool ucons[CAP];         /* ... and whether that position's record is consumed */
byte next_take[P];       /* the next message number of producer p a consumer may take */
byte taken = 0;          /* messages taken (CAS committed -> reading) */
byte delivered = 0;      /* ... and copied out */
byte lost = 0;           /* taken by a consumer that crashed before copying it out */
byte given_up = 0;       /* never committed: their producer crashed */
byte abandoned = 0;      /* repair_producer() successes (claims_abandoned) */
byte reads_lost = 0;     /* repair_consumer() successes */
byte pkills = 0, ckills = 0;

#define ACCOUNTED (taken + given_up)

/* ---- ghost checks ---------------------------------------------------------- */

/* A store to position p: in a new lap, the unit's previous record must be consumed. */
inline fresh(p) {
  if
  :: ulap[(p) % CAP] != (p) ->
    if
    :: !ucons[(p) % CAP] ->
      printf("OVERWRITE: a store to position %d hits unit %d, still holding unconsumed position %d\n",
             p, (p) % CAP, ulap[(p) % CAP])
    :: else -> skip
    fi;
    assert(ucons[(p) % CAP]);
    ulap[(p) % CAP] = (p);
    ucons[(p) % CAP] = false
  :: else -> skip
  fi
}

/* The record [p, p + n) is consumed: its units may be reused. */
inline consumed_ghost(p, n) {
  for (gi : (p) .. (p) + (n) - 1) {
    assert(ulap[gi % CAP] == NONE || ulap[gi % CAP] <= gi);
    ulap[gi % CAP] = gi;
    ucons[gi % CAP] = true
  };
  gi = 0
}

#define CORRUPT(what) printf("CORRUPT: "); printf(what); printf("\n"); assert(false)

/* ---- producers' store buffers ---------------------------------------------- */

inline apply(x) {
  if
  :: bs[x] -> sk[(x) % CAP] = bsk[x]; st[(x) % CAP] = bst[x]; so[(x) % CAP] = bso[x]; py[(x) % CAP] = 0; bs[x] = false
  :: else -> skip
  fi;
  if
  :: bm[x] -> ml[(x) % CAP] = bml[x]; mg[(x) % CAP] = bmg[x]; bm[x] = false
  :: else -> skip
  fi
}
inline apply_pay(x) {
  if
  :: bp[x] -> py[(x) % CAP] = bpy[x]; bp[x] = false
  :: else -> skip
  fi
}
/* A release store or an RMW by producer `me`: its earlier stores land first. */
inline drain_me() {
  for (bx : me * CAP .. me * CAP + CAP - 1) { apply(bx); apply_pay(bx) };
  bx = 0
}
/* Relaxed stores (buffered; -DSC_STORES: straight to memory). */
#ifdef SC_STORES
inline w_state(p, k, o) { fresh(p); sk[(p) % CAP] = k; st[(p) % CAP] = p; so[(p) % CAP] = o; py[(p) % CAP] = 0 }
inline w_meta(p, l, g)  { fresh(p); ml[(p) % CAP] = l; mg[(p) % CAP] = g }
inline w_pay(p, g)      { fresh(p); py[(p) % CAP] = g }
#else
inline w_state(p, k, o) { fresh(p); bx = me * CAP + (p) % CAP; bs[bx] = true; bsk[bx] = k; bst[bx] = p; bso[bx] = o; bx = 0 }
inline w_meta(p, l, g)  { fresh(p); bx = me * CAP + (p) % CAP; bm[bx] = true; bml[bx] = l; bmg[bx] = g; bx = 0 }
inline w_pay(p, g)      { fresh(p); bx = me * CAP + (p) % CAP; bp[bx] = true; bpy[bx] = g; bx = 0 }
#endif
/* Stores made sequentially consistent (consumers, repairs). */
inline s_state(p, k, o) { fresh(p); sk[(p) % CAP] = k; st[(p) % CAP] = p; so[(p) % CAP] = o; py[(p) % CAP] = 0 }
inline s_meta(p, l, g)  { fresh(p); ml[(p) % CAP] = l; mg[(p) % CAP] = g }

/* span_of(meta): units a record spans, 0 if impossible */
inline span_of(l, out) {
  if
  :: (l) & PAD -> out = (l) - PAD
  :: else -> out = 1 + (l)
  fi;
  if
  :: out > CAP -> out = 0
  :: else -> skip
  fi
}

/* advance_head(from, size): CAS head from -> from + size (release) */
inline advance_head(from, size) {
  d_step {
    if
    :: H == (from) -> H = (from) + (size)
    :: else -> skip
    fi
  }
}

/* ---- header CASes under a hazard (the "Reuse" paragraph of mpmc_ring.hpp) ------- */

/* The compare of a CAS on the state word of position p expecting kind k and
 * owner o. It succeeds on that word, and on bytes that a later lap's payload
 * wrote over the header while leaving its tag standing (py != 0: the unit's
 * last store to land was a payload; st still p): one payload byte can equal
 * any kind and owner, so the worst case, equal, is taken. */
#define CAS_MATCHES(p, k, o) \
  ((sk[(p) % CAP] == (k) && st[(p) % CAP] == (p) && so[(p) % CAP] == (o)) || \
   (py[(p) % CAP] != 0 && st[(p) % CAP] == (p)))

/* After a CAS at position p succeeded: the unit's bytes belong to p's lap
 * (ghost `ulap`: no store of a later position was issued to it). The CAS's
 * store makes the unit's first word a header word again (py = 0). */
inline cas_won(p) {
  if
  :: ulap[(p) % CAP] != (p) ->
    printf("REUSED: a CAS at position %d succeeds on unit %d, whose bytes belong to position %d\n",
           p, (p) % CAP, ulap[(p) % CAP])
  :: else -> skip
  fi;
#ifndef NO_LAP_ASSERT
  assert(ulap[(p) % CAP] == (p));
#endif
  py[(p) % CAP] = 0
}

/* protect(p): publish the hazard (seq_cst store), then load `released`
 * (seq_cst); stale (released > p): the hazard is cleared, ok = false. Two
 * steps, and the CAS is a third: anything may happen between them.
 * -DNO_HAZARD: the load alone (stale()); -DHAZARD_AFTER_CHECK: the load, then
 * the hazard. */
inline protect(p, ok) {
#if defined(NO_HAZARD)
  d_step {
    ok = (R <= (p));
    if
    :: ok -> printf("%d: checks released %d <= %d before its CAS at %d\n", me, R, p, p)
    :: else -> skip
    fi
  }
#elif defined(HAZARD_AFTER_CHECK)
  d_step {
    ok = (R <= (p));
    if
    :: ok -> printf("%d: checks released %d <= %d before its CAS at %d\n", me, R, p, p)
    :: else -> skip
    fi
  };
  if
  :: ok -> d_step { if :: me < P -> drain_me() :: else -> skip fi; hz[me] = (p); printf("%d: hazard at %d\n", me, p) }
  :: else -> skip
  fi
#else
  d_step { if :: me < P -> drain_me() :: else -> skip fi; hz[me] = (p) };    /* SYNC(hazard) seq_cst */
  d_step {                                                                  /* SYNC(released) seq_cst */
    if
    :: R > (p) -> hz[me] = NONE; ok = false
    :: else -> ok = true; printf("%d: hazard at %d, released %d: may CAS\n", me, p, R)
    fi
  }
#endif
}
/* unprotect(): SYNC(hazard) release (the CAS before it drained the buffer). */
inline unprotect() {
#ifndef NO_HAZARD
  hz[me] = NONE
#else
  skip
#endif
}

/* ---- repairs (the caller has proved the owner dead) --------------------------- */

/* repair_hazard(Blocker{o, p}): CAS o's hazard p -> none */
inline repair_hazard(o, p) {
  d_step {
    if
    :: hz[o] == (p) ->
      hz[o] = NONE;
      printf("%d: repair_hazard: clears the hazard at %d of dead %d\n", me, p, o)
    :: else -> skip
    fi
  }
}

/* repair_producer(Blocker{o, p}) by participant `me` */
inline repair_producer(o, p) {
  ru = (p) % CAP;
  d_step { rok = (sk[ru] == CLAIMED && st[ru] == (p) && so[ru] == (o)) };   /* SYNC(state) acquire */
  if
  :: rok -> protect(p, rok)
  :: else -> skip
  fi;
  if
  :: rok ->
    d_step {
      /* SYNC(state) acq_rel: the takeover CAS claimed(p, o) -> claimed(p, me) */
      if
      :: me < P -> drain_me()
      :: else -> skip
      fi;
      if
      :: CAS_MATCHES(p, CLAIMED, o) ->
        cas_won(p);
        sk[ru] = CLAIMED;
#ifndef NO_TAKEOVER
        so[ru] = me;
#else
        so[ru] = (o);
#endif
        rok = true
      :: else -> rok = false
      fi
    };
    unprotect()
  :: else -> skip
  fi;
  if
  :: rok ->
    printf("%d: repair_producer: takes over the record at %d of dead %d\n", me, p, o);
    rt = T;                                            /* SYNC(tail) acquire */
    rl = ml[ru];                                       /* meta, relaxed */
#ifdef SHRINK_ALWAYS
    if
    :: true ->
#else
    if
    :: rt == (p) ->
#endif
      /* it died before moving the tail: shrink to a bare header */
      d_step { s_meta((p) + 1, 0, 0); s_state((p) + 1, EMPTY, 0) };
      d_step { s_meta(p, PAD | 1, 0) };
      d_step {
        printf("%d: repair_producer: tail %d -> %d\n", me, T, (p) + 1);
        if
        :: T > (p) + 1 -> printf("CORRUPT: tail moves backwards\n")
        :: else -> skip
        fi;
        assert(T <= (p) + 1);
        T = (p) + 1                                    /* SYNC(tail) release */
      };
      rk = 1
    :: else ->
      span_of(rl, rk);
      if
      :: rk == 0 || rk > rt - (p) -> rk = 1
      :: else -> skip
      fi;
      d_step { s_meta(p, PAD | rk, 0) }
    fi;
    d_step {                                           /* SYNC(state) release */
      sk[ru] = CONSUMED; so[ru] = 0;
      consumed_ghost(p, rk);
      abandoned = abandoned + 1;
      printf("%d: repair_producer: record at %d is padding of %d units\n", me, p, rk)
    }
  :: else -> skip
  fi;
  d_step { ru = 0; rt = 0; rl = 0; rk = 0; rok = false }
}

/* repair_consumer(Blocker{o, p}): reading(p, o) -> consumed(p) */
inline repair_consumer(o, p) {
  ru = (p) % CAP;
  d_step { rok = (sk[ru] == READING && st[ru] == (p) && so[ru] == (o)) };   /* SYNC(state) acquire */
  if
  :: rok -> protect(p, rok)
  :: else -> skip
  fi;
  if
  :: rok ->
    d_step {                                           /* SYNC(state) acq_rel CAS reading(p, o) -> consumed(p) */
      if
      :: me < P -> drain_me()
      :: else -> skip
      fi;
      if
      :: CAS_MATCHES(p, READING, o) ->
        cas_won(p);
        sk[ru] = CONSUMED; so[ru] = 0;
        span_of(ml[ru], rk);
        consumed_ghost(p, rk);
        reads_lost = reads_lost + 1;
        printf("%d: repair_consumer: record at %d of dead %d consumed\n", me, p, o)
      :: else -> skip
      fi
    };
    unprotect()
  :: else -> skip
  fi;
  d_step { ru = 0; rk = 0; rok = false }
}

/* ---- producer ---------------------------------------------------------------- */

proctype producer(byte me) {
  byte k = 0;                    /* messages committed */
  byte size, s, csize, t, off, need, nx, g, rc = 0, lim = 0, i;   /* rc: released_cache_, lim: reuse_limit_ */
  bool pad;
  byte wk, wt, wo;               /* a state word read */
  byte cur, hd, r, rz, rdr, rpos, wr, wrk, wrt;   /* refresh_released() */
  byte hzo, hzp;                 /* ... the lowest hazard below `released`: its owner and position */
  byte ru, rt, rl, rk, bx, gi;   /* repairs, buffers, ghosts */
  bool rok;

  {
  do
  :: k == K -> break
  :: else ->
#if defined(FIXED_SIZE)
    size = MAXP;                                       /* every put MAXP units, committed whole */
#elif defined(SIZE_PLAN)
    if                                                 /* the last producer's first put 0 units, every */
    :: k == 0 && me == P - 1 -> size = 0               /* other MAXP, committed whole: a header at unit 1, */
    :: else -> size = MAXP                             /* a payload over it in the next lap */
    fi;
#else
    select (size : 0 .. MAXP);
#endif
    s = 1 + size;
    g = 1 + me * K + k;
claim:
    t = T;                                             /* SYNC(tail) acquire */
    off = t % CAP;
    if
    :: off + s > CAP -> pad = true; need = CAP - off
    :: else -> pad = false; need = s
    fi;
    if
    :: t + need + 1 > lim + CAP ->
      /* refresh_released(): walk consumed records from `released`, never past head */
      cur = R;                                         /* SYNC(released) acquire */
      hd = H;                                          /* SYNC(head) acquire */
      r = cur; rdr = NONE; wr = NONE;
      do
#ifdef NO_HEAD_BOUND
      :: r < T ->
#else
      :: r < hd ->
#endif
        d_step { wk = sk[r % CAP]; wt = st[r % CAP]; wo = so[r % CAP] };   /* SYNC(state) acquire */
        if
        :: wt != r -> wr = r; wrk = wk; wrt = wt; break          /* reused: the CAS below fails */
        :: wk != CONSUMED ->
          if
          :: wk == READING -> rdr = wo; rpos = r
          :: else -> skip
          fi;
          wr = r; wrk = wk; wrt = wt; break
        :: else -> skip
        fi;
        d_step { span_of(ml[r % CAP], rz) };
#ifdef NO_HEAD_BOUND
        if
        :: rz == 0 || rz > T - r -> break              /* damaged: stop here */
        :: else -> skip
        fi;
#else
        if
        :: rz == 0 || rz > hd - r -> break             /* damaged (or reused meanwhile): stop here */
        :: else -> skip
        fi;
#endif
        r = r + rz
      :: else -> break
      od;
      if
      :: r != cur ->
        d_step {                                       /* SYNC(released) acq_rel CAS */
          drain_me();
          if
          :: R == cur ->
            R = r; rc = r;
            printf("%d: released %d -> %d\n", me, cur, r);
            if
            :: R > H -> printf("%d: released %d -> %d, past head %d\n", me, cur, r, H)
            :: else -> skip
            fi
          :: else -> rc = R; rdr = NONE
          fi
        }
      :: else -> rc = r
      fi;
#ifdef NO_HAZARD
      d_step { lim = rc; hzo = NONE };
#else
      d_step {
        /* lowest_hazard(rc): SYNC(hazard) seq_cst loads, after the load or CAS
           of `released`. One step: each participant's hazard is ordered
           against its own check of `released` alone, so splitting the loads
           adds interleavings of independent outcomes only. Bytes are reused
           only below the lowest hazard; its owner is the blocker. */
        lim = rc; hzo = NONE;
        for (i : 0 .. NP - 1) {
          if
          :: hz[i] != NONE && hz[i] < lim -> lim = hz[i]; hzo = i
          :: else -> skip
          fi
        };
        i = 0;
        if
        :: hzo != NONE -> hzp = lim; rdr = NONE; printf("%d: reuse only below %d: hazard of %d\n", me, lim, hzo)
        :: else -> skip
        fi
      };
#endif
      if
      :: t < rc || t - rc > CAP ->
        if
        :: T != t -> goto claim
        :: else -> CORRUPT("claim: positions")
        fi
      :: else -> skip
      fi;
      if
      :: t + need + 1 > lim + CAP ->
        if
        :: T != t -> goto claim
        :: else -> skip
        fi;
        /* full: wait (wakeup.pml, wakeone.pml) until what we read changes, or
           the blocker (the reader, or the owner of the lowest hazard) is dead */
        (T != t || R != rc || H != hd ||
         (wr != NONE && (sk[wr % CAP] != wrk || st[wr % CAP] != wrt)) ||
         (rdr != NONE && dead[rdr]) ||
         (hzo != NONE && (hz[hzo] != hzp || dead[hzo])));
        if
        :: rdr != NONE && dead[rdr] -> repair_consumer(rdr, rpos)
        :: hzo != NONE && dead[hzo] -> repair_hazard(hzo, hzp)
        :: else -> skip
        fi;
        d_step { cur = 0; hd = 0; r = 0; rz = 0; rdr = 0; rpos = 0; wr = 0; wrk = 0; wrt = 0; hzo = 0; hzp = 0 };
        goto claim
      :: else -> skip
      fi;
      d_step { cur = 0; hd = 0; r = 0; rz = 0; rdr = 0; rpos = 0; wr = 0; wrk = 0; wrt = 0; hzo = 0; hzp = 0 }
    :: else -> skip
    fi;
    d_step { wk = sk[t % CAP]; wt = st[t % CAP]; wo = so[t % CAP] };   /* SYNC(state) acquire */
    if
    :: wk == EMPTY && wt == t && wo == 0 -> skip
    :: wk == CLAIMED && wt == t ->
      /* busy: another producer between its claim and its tail store */
      (T != t || sk[t % CAP] != wk || st[t % CAP] != wt || so[t % CAP] != wo || dead[wo]);
      if
      :: dead[wo] -> repair_producer(wo, t)
      :: else -> skip
      fi;
      goto claim
    :: else ->
      if
      :: T != t -> goto claim                          /* we read a stale tail */
      :: else -> printf("%d: claim: header at tail %d reads kind %d tag %d\n", me, t, wk, wt); CORRUPT("claim: header at tail")
      fi
    fi;
    /* protect(t): our tail may be a lap old, that empty(t) half-overwritten bytes */
    protect(t, rok);
    if
    :: !rok ->
      if
      :: T < R -> CORRUPT("claim: tail behind released")   /* behind_released(tail) */
      :: else -> goto claim
      fi
    :: else -> skip
    fi;
    d_step {                                           /* SYNC(state) acq_rel: empty(t) -> claimed(t, me) */
      drain_me();
      if
      :: CAS_MATCHES(t, EMPTY, 0) -> cas_won(t); so[t % CAP] = me; sk[t % CAP] = CLAIMED; rok = true
      :: else -> rok = false
      fi
    };
    unprotect();                                       /* a claimed record holds `released` back by itself */
    if
    :: !rok -> goto claim
    :: else -> rok = false
    fi;
    nx = t + need;
    d_step {                                           /* relaxed stores, published by the tail store */
#ifndef TAIL_BEFORE_NEXT
      w_meta(nx, 0, 0); w_state(nx, EMPTY, 0);         /* the next header: empty(nx), its message number */
#endif
      if
      :: pad -> w_meta(t, PAD | need, 0)
      :: else -> w_meta(t, size, g)
      fi
    };
    d_step {                                           /* SYNC(tail) release */
#ifndef RELAXED_TAIL
      drain_me();
#endif
      if
      :: T != t -> printf("%d: tail is %d, not %d, at our tail store\n", me, T, t)
      :: else -> skip
      fi;
      assert(T == t);                                  /* nobody else moves the tail from t */
      T = nx;
      printf("%d: claims %d units at %d for message %d (padding: %d), tail -> %d\n", me, need, t, g, pad, nx)
    };
#ifdef TAIL_BEFORE_NEXT
    d_step { w_meta(nx, 0, 0); w_state(nx, EMPTY, 0) };
#endif
    if
    :: pad ->
      d_step {                                         /* SYNC(state) release: padding consumed */
        drain_me();
        sk[t % CAP] = CONSUMED; so[t % CAP] = 0;
        consumed_ghost(t, need)
      };
      goto claim
    :: else -> skip
    fi;
    /* the payload, then commit(csize) with csize <= the claimed size; the rest becomes padding */
#if defined(FIXED_SIZE) || defined(SIZE_PLAN)
    csize = size;
#else
    select (csize : 0 .. size);
#endif
    skip;                                              /* (select ends in a break: not into a d_step) */
    d_step {
      for (i : 1 .. size) { w_pay(t + i, g) };
      i = 0;
      if
      :: csize < size ->
        w_meta(t + 1 + csize, PAD | (size - csize), 0);
        w_state(t + 1 + csize, CONSUMED, 0);
        consumed_ghost(t + 1 + csize, size - csize)
      :: else -> skip
      fi;
      w_meta(t, csize, g)
    };
    d_step {                                           /* SYNC(state) release: committed */
#ifndef RELAXED_COMMIT
      drain_me();
#endif
      sk[t % CAP] = COMMITTED; so[t % CAP] = 0;
      k = k + 1;
      printf("%d: commits message %d at %d (%d payload units)\n", me, g, t, csize)
    };
    d_step { size = 0; s = 0; csize = 0; t = 0; off = 0; need = 0; nx = 0; g = 0; pad = false; wk = 0; wt = 0; wo = 0 }
  od;
  skip;                          /* (a break may not jump into a d_step) */
  d_step { fin[me] = true; nfin = nfin + 1 }
  } unless {
    kill[me] ->
    d_step {
      drain_me();
      dead[me] = true; fin[me] = true; nfin = nfin + 1;
      given_up = given_up + K - k;
      printf("%d: producer crashes (%d messages committed)\n", me, k)
    }
  }
}

/* ---- consumer ---------------------------------------------------------------- */

proctype consumer(byte me) {
  byte h, u, wk, wt, wo, l, g, tv, z, i, holding = 0;
  byte ru, rt, rl, rk, bx, gi;   /* repairs, buffers, ghosts */
  bool rok;

  {
  do
  :: ACCOUNTED == TOTAL -> break
  :: else ->
front:
    h = H;                                             /* SYNC(head) acquire */
    u = h % CAP;
    d_step { wk = sk[u]; wt = st[u]; wo = so[u] };     /* SYNC(state) acquire */
    if
    :: wt != h ->
      if
      :: H != h -> goto front
      :: else -> printf("%d: front: header at head %d reads kind %d tag %d\n", me, h, wk, wt); CORRUPT("front: tag at head")
      fi
    :: wt == h && wk == EMPTY ->
      /* empty: wait (wakeone.pml) until the head record changes */
      (H != h || sk[u] != wk || st[u] != wt || ACCOUNTED == TOTAL)
    :: wt == h && wk == CLAIMED ->
      /* empty, blocker: the producer writing it */
      (H != h || sk[u] != wk || st[u] != wt || so[u] != wo || dead[wo] || ACCOUNTED == TOTAL);
      if
      :: dead[wo] -> repair_producer(wo, h)
      :: else -> skip
      fi
    :: wt == h && wk == COMMITTED ->
      /* protect(h) (the hazard at the walk's start): our head may be a lap
         old, and the bytes of committed(h) reused while we sleep */
      protect(h, rok);
      if
      :: !rok -> goto front
      :: else -> rok = false
      fi;
      d_step {                                         /* SYNC(state) acquire: committed(h) -> reading(h, me) */
        if
        :: CAS_MATCHES(h, COMMITTED, wo) ->
          cas_won(h);
          sk[u] = READING; so[u] = me;
          g = mg[u];
          /* exactly once, in order per producer */
          if
          :: g == 0 || (g - 1) % K != next_take[(g - 1) / K] ->
            printf("%d: takes message %d at %d, expected number %d of producer %d\n", me, g, h,
                   next_take[(g - 1) / K], (g - 1) / K)
          :: else -> skip
          fi;
          assert(g != 0 && (g - 1) % K == next_take[(g - 1) / K]);
          next_take[(g - 1) / K] = next_take[(g - 1) / K] + 1;
          taken = taken + 1;
          holding = 1;
          /* then the meta (relaxed: nobody writes a record being read) and the
             tail (acquire; it only grows, so reading it here is the strictest) */
          l = ml[u];
          tv = T;
          printf("%d: takes message %d at %d\n", me, g, h)
        :: else -> holding = 0
        fi
      };
      unprotect();                                     /* a record being read holds `released` back by itself */
      if
      :: holding == 0 -> goto front
      :: else -> skip
      fi;
      if
      :: (l & PAD) || l > MAXU || 1 + l > tv - h -> CORRUPT("front: committed record's meta")
      :: else -> skip
      fi;
      advance_head(h, 1 + l);
#ifdef CONSUMED_BEFORE_COPY
      d_step { sk[u] = CONSUMED; so[u] = 0; consumed_ghost(h, 1 + l) };
#endif
      /* the caller copies the payload out */
      for (i : 1 .. l) {
        d_step {
          if
          :: py[(h + i) % CAP] != g ->
            printf("%d: copies position %d of message %d and finds %d\n", me, h + i, g, py[(h + i) % CAP])
          :: else -> skip
          fi;
          assert(py[(h + i) % CAP] == g)
        }
      };
      i = 0;
      d_step {
        delivered = delivered + 1; holding = 0;
#ifndef CONSUMED_BEFORE_COPY
        /* pop(): SYNC(state) release */
        sk[u] = CONSUMED; so[u] = 0;
        consumed_ghost(h, 1 + l)
#endif
      }
    :: wt == h && (wk == READING || wk == CONSUMED) ->
      /* taken already: help the head past it */
      d_step { span_of(ml[u], z) };
      if
      :: z == 0 || z > T - h ->
        if
        :: H != h -> goto front
        :: else -> CORRUPT("front: size of a taken record")
        fi
      :: else -> skip
      fi;
      advance_head(h, z);
      goto front
    :: else -> printf("%d: front: header at head %d reads kind %d\n", me, h, wk); CORRUPT("front: kind at head")
    fi;
    d_step { h = 0; u = 0; wk = 0; wt = 0; wo = 0; l = 0; g = 0; tv = 0; z = 0 }
  od;
  skip;                          /* (a break may not jump into a d_step) */
  d_step { fin[me] = true; nfin = nfin + 1 }
  } unless {
    kill[me] ->
    d_step {
      dead[me] = true; fin[me] = true; nfin = nfin + 1;
      if
      :: holding == 1 -> lost = lost + 1
      :: else -> skip
      fi;
      printf("%d: consumer crashes (holding: %d)\n", me, holding)
    }
  }
}

/* ---- the environment ----------------------------------------------------------- */

#define DRAIN(x) :: d_step { (bs[x] || bm[x]) -> apply(x) } :: d_step { bp[x] -> apply_pay(x) }
proctype memory() {
end:
  do
#if P * CAP > 0
  DRAIN(0)
#endif
#if P * CAP > 1
  DRAIN(1)
#endif
#if P * CAP > 2
  DRAIN(2)
#endif
#if P * CAP > 3
  DRAIN(3)
#endif
#if P * CAP > 4
  DRAIN(4)
#endif
#if P * CAP > 5
  DRAIN(5)
#endif
#if P * CAP > 6
  DRAIN(6)
#endif
#if P * CAP > 7
  DRAIN(7)
#endif
#if P * CAP > 8
  DRAIN(8)
#endif
#if P * CAP > 9
  DRAIN(9)
#endif
#if P * CAP > 10
  DRAIN(10)
#endif
#if P * CAP > 11
  DRAIN(11)
#endif
#if P * CAP > 12
  DRAIN(12)
#endif
#if P * CAP > 13
  DRAIN(13)
#endif
#if P * CAP > 14
  DRAIN(14)
#endif
#if P * CAP > 15
  DRAIN(15)
#endif
  od
}

#define KILLP(i) :: atomic { pkills < CRASHP && !fin[i] && !kill[i] -> kill[i] = true; pkills = pkills + 1 }
#define KILLC(i) :: atomic { ckills < CRASHC && !fin[i] && !kill[i] -> kill[i] = true; ckills = ckills + 1 }
proctype killer() {
end:
  do
  KILLP(0)
#if P > 1
  KILLP(1)
#endif
  KILLC(P)
#if C > 1
  KILLC(P + 1)
#endif
  od
}

/* When every participant is finished or dead: the accounts add up. */
proctype checker() {
  nfin == NP ->
  printf("end: taken %d, delivered %d, lost %d, given up %d, claims abandoned %d, reads lost %d\n",
         taken, delivered, lost, given_up, abandoned, reads_lost);
  assert(taken + given_up == TOTAL);
  assert(delivered + lost == taken);
  assert(lost <= ckills)
}

init {
  byte i;
  atomic {
    for (i : 0 .. CAP - 1) { st[i] = NONE; ulap[i] = NONE; ucons[i] = true };
    for (i : 0 .. NP - 1) { hz[i] = NONE };
    /* initialize(): the first header empty(0), message number 0 */
    sk[0] = EMPTY; st[0] = 0; so[0] = 0; ml[0] = 0; mg[0] = 0; ulap[0] = 0; ucons[0] = false;
    for (i : 0 .. P - 1) { run producer(i) };
    for (i : P .. NP - 1) { run consumer(i) };
    run memory();
#if CRASHP + CRASHC > 0
    run killer();
#endif
    run checker()
  }
}

ltl finished { <> (nfin == NP) }
