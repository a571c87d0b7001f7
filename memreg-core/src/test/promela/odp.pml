/*
 * On-demand paging of a registered region (seed 001, issue 6): the owner, two peers, lossless
 * FIFO channels each way per peer, RMA operations in flight between issue, landing at the owner's
 * memory and completion at the peer. One peer may crash; the owner cuts a crashed peer off when
 * its lease expires (modelled as: the cut-off is possible once the peer crashed and a reclaim
 * waits for it) or when its endpoint fails (at any time after the crash). Page ranges are single
 * pages here; the Java tables handle runs of pages the same way page by page.
 *
 * Names as in org.memreg.odp: OwnerPageState, PeerPageState and the OdpMessage kinds.
 *
 * Checked (OdpModelCheckTest): spin -a odp.pml; gcc -o pan pan.c; ./pan
 *  - safety: no RMA of a peer that is not cut off lands on a RECLAIMED page or a page the owner
 *    does not think it maps (assert in land);
 *  - no deadlock and every fault answered: accesses and reclaims are bounded, so every execution
 *    ends; when nothing can move any more (timeout) the system must be quiet: no peer FAULTING or
 *    DRAINING, no reclaim waiting, no deferred fault, no message unread;
 *  - the model can catch the bugs it is meant to catch: with -DACK_EARLY (a peer acknowledges
 *    before its operations drained) the safety assert fails; with -DDROP_FAULT (the owner drops
 *    a fault that races a reclaim) the quiet-state assert fails.
 * Sizes: NPAGES (1), MAXEPOCH (3 reclaims), MAXACCESS (3 per peer) can be set with -D.
 */
#define NPEERS 2
#ifndef NPAGES
#define NPAGES 1
#endif
#ifndef MAXEPOCH
#define MAXEPOCH 3
#endif
#ifndef MAXACCESS
#define MAXACCESS 3
#endif
#define K(q, p) ((q) * NPAGES + (p))

mtype = { PRESENT, RECLAIMING, RECLAIMED };        /* OwnerPageState */
mtype = { UNMAPPED, FAULTING, MAPPED, DRAINING };  /* PeerPageState */
mtype = { INVALIDATE, ACK, FAULT, ESTABLISHED };   /* OdpMessage */

chan toPeer[NPEERS] = [4] of { mtype, byte, byte };   /* kind, page, epoch */
chan toOwner[NPEERS] = [4] of { mtype, byte, byte };

/* owner */
mtype ostate[NPAGES] = PRESENT;
bool mapped[NPEERS * NPAGES];
bool pendingAck[NPEERS * NPAGES];
bool waiting[NPEERS * NPAGES];
byte reclaimEpoch[NPAGES];
bool cutoff[NPEERS];
byte acksOwed[NPEERS];   /* pendingAck entries per peer (derived, kept for the guards) */
byte epoch;

/* peers */
mtype pstate[NPEERS * NPAGES] = UNMAPPED;
bool inflight[NPEERS * NPAGES];
bool landed[NPEERS * NPAGES];
bool wanted[NPEERS * NPAGES];
byte pendingInv[NPEERS * NPAGES];
byte invalidated[NPEERS * NPAGES];
bool crashed[NPEERS];
byte crashes;

/* ---------------------------------------------------------------- owner */

inline answer(q, p) {
    if
    :: ostate[p] == RECLAIMED -> ostate[p] = PRESENT   /* establish: populate, pin */
    :: else
    fi;
    mapped[K(q, p)] = 1;
    toPeer[q]!ESTABLISHED, p, epoch
}

inline finishIfReady(p) {
    if
    :: ostate[p] == RECLAIMING && !pendingAck[K(0, p)] && !pendingAck[K(1, p)] ->
        ostate[p] = RECLAIMED;                         /* release: munlock, DONTNEED */
        i = 0;
        do
        :: i < NPEERS ->
            if
            :: waiting[K(i, p)] -> waiting[K(i, p)] = 0; answer(i, p)
            :: else
            fi;
            i++
        :: else -> break
        od
    :: else
    fi
}

inline reclaim(p) {   /* reclaim(p): INVALIDATE to every mapper, release at once if none */
    epoch++;
    ostate[p] = RECLAIMING;
    reclaimEpoch[p] = epoch;
    i = 0;
    do
    :: i < NPEERS ->
        if
        :: mapped[K(i, p)] ->
            pendingAck[K(i, p)] = 1; acksOwed[i]++; toPeer[i]!INVALIDATE, p, epoch
        :: else
        fi;
        i++
    :: else -> break
    od;
    finishIfReady(p);
    i = 0
}

inline cutOff(q) {   /* lease over or endpoint failed: keys revoked, mappings dropped, reclaims finish */
    cutoff[q] = 1;
    acksOwed[q] = 0;
    p = 0;
    do
    :: p < NPAGES ->
        mapped[K(q, p)] = 0; pendingAck[K(q, p)] = 0; waiting[K(q, p)] = 0;
        p++
    :: else -> break
    od;
    p = 0;
    do
    :: p < NPAGES -> finishIfReady(p); p++
    :: else -> break
    od;
    p = 0; i = 0
}

#define CAN_RECLAIM(p)  (epoch < MAXEPOCH && ostate[p] == PRESENT)
#define LEASE_OVER(q)   (crashed[q] && !cutoff[q] && acksOwed[q] > 0)
#define ENDPOINT_FAILED(q) (crashed[q] && !cutoff[q])   /* the transport says the peer is gone */

active proctype Owner() {
    byte p, q, e, i;
    mtype m;
    do
    :: atomic { CAN_RECLAIM(0) -> reclaim(0) }
    :: atomic { NPAGES > 1 && CAN_RECLAIM(1) -> reclaim(1) }
    :: atomic { LEASE_OVER(0) -> cutOff(0) }
    :: atomic { LEASE_OVER(1) -> cutOff(1) }
    :: atomic { ENDPOINT_FAILED(0) -> cutOff(0) }
    :: atomic { ENDPOINT_FAILED(1) -> cutOff(1) }
    :: atomic {
        (toOwner[0]?[m, p, e] || toOwner[1]?[m, p, e]) ->
        if
        :: toOwner[0]?m, p, e -> q = 0
        :: toOwner[1]?m, p, e -> q = 1
        fi;
        if
        :: cutoff[q] -> skip                               /* late message of a cut-off peer */
        :: !cutoff[q] && m == ACK ->
            if
            :: pendingAck[K(q, p)] && reclaimEpoch[p] == e ->
                pendingAck[K(q, p)] = 0; acksOwed[q]--; mapped[K(q, p)] = 0;
                finishIfReady(p)
            :: else                                        /* stale epoch */
            fi
        :: !cutoff[q] && m == FAULT ->
            if
#ifdef DROP_FAULT
            :: ostate[p] == RECLAIMING -> skip   /* the bug: a fault racing a reclaim is lost */
#else
            :: ostate[p] == RECLAIMING -> waiting[K(q, p)] = 1   /* answered when the reclaim ends */
#endif
            :: else -> answer(q, p)
            fi
        fi;
        m = 0; p = 0; q = 0; e = 0; i = 0
       }
    :: timeout ->  /* nothing can move: it must be because everything is done */
        q = 0;
        do
        :: q < NPEERS ->
            assert(len(toOwner[q]) == 0);
            p = 0;
            do
            :: p < NPAGES ->
                assert(!waiting[K(q, p)] && !pendingAck[K(q, p)]);
                assert(crashed[q] || (len(toPeer[q]) == 0 && pstate[K(q, p)] != FAULTING
                       && pstate[K(q, p)] != DRAINING && pendingInv[K(q, p)] == 0));
                p++
            :: else -> break
            od;
            q++
        :: else -> break
        od;
        p = 0;
        do
        :: p < NPAGES -> assert(ostate[p] != RECLAIMING); p++
        :: else -> break
        od;
        break
    od
}

/* ---------------------------------------------------------------- peers */

inline drain(me, p) {   /* ACK once nothing is in flight on the page; then fault if wanted */
    if
    :: pendingInv[K(me, p)] != 0 && !inflight[K(me, p)] ->
        if
        :: pstate[K(me, p)] == DRAINING -> pstate[K(me, p)] = UNMAPPED
        :: else
        fi;
        toOwner[me]!ACK, p, pendingInv[K(me, p)];
        pendingInv[K(me, p)] = 0;
        if
        :: wanted[K(me, p)] && pstate[K(me, p)] == UNMAPPED ->
            wanted[K(me, p)] = 0; pstate[K(me, p)] = FAULTING; toOwner[me]!FAULT, p, invalidated[K(me, p)]
        :: else
        fi
    :: else
    fi
}

inline land(me, p) {   /* the RMA reaches the owner's memory */
    landed[K(me, p)] = 1;
    if
    :: cutoff[me] -> skip                              /* key revoked: refused */
    :: else -> assert(ostate[p] != RECLAIMED && mapped[K(me, p)])
    fi
}

inline access(me, p) {   /* begin an RMA, or fault, or ask to fault once drained */
    accesses++;
    if
    :: pstate[K(me, p)] == MAPPED -> inflight[K(me, p)] = 1
    :: pstate[K(me, p)] == UNMAPPED ->
        pstate[K(me, p)] = FAULTING; toOwner[me]!FAULT, p, invalidated[K(me, p)]
    :: pstate[K(me, p)] == DRAINING -> wanted[K(me, p)] = 1
    fi
}

inline complete(me, p) {
    inflight[K(me, p)] = 0; landed[K(me, p)] = 0;
    drain(me, p)
}

#define CAN_ACCESS(me, p) (accesses < MAXACCESS && ((pstate[K(me, p)] == MAPPED && !inflight[K(me, p)]) || \
                           pstate[K(me, p)] == UNMAPPED || (pstate[K(me, p)] == DRAINING && !wanted[K(me, p)])))
#define CAN_LAND(me, p)   (inflight[K(me, p)] && !landed[K(me, p)])

proctype Peer(byte me) {
    byte p, e, accesses;
    mtype m;
end:
    do
    :: atomic { CAN_ACCESS(me, 0) -> access(me, 0) }
    :: atomic { NPAGES > 1 && CAN_ACCESS(me, 1) -> access(me, 1) }
    :: atomic { CAN_LAND(me, 0) -> land(me, 0) }
    :: atomic { NPAGES > 1 && CAN_LAND(me, 1) -> land(me, 1) }
    :: atomic { landed[K(me, 0)] -> complete(me, 0) }
    :: atomic { NPAGES > 1 && landed[K(me, 1)] -> complete(me, 1) }
    :: atomic {
        toPeer[me]?m, p, e ->
        if
        :: m == INVALIDATE ->
#ifdef ACK_EARLY
            toOwner[me]!ACK, p, e;   /* the bug: acknowledge with operations in flight */
#endif
            invalidated[K(me, p)] = e;
            if
            :: pstate[K(me, p)] == MAPPED -> pstate[K(me, p)] = DRAINING
            :: else
            fi;
            pendingInv[K(me, p)] = e;
            drain(me, p)
        :: m == ESTABLISHED ->
            if
            :: (e >= invalidated[K(me, p)] &&
                (pstate[K(me, p)] == FAULTING || pstate[K(me, p)] == UNMAPPED)) -> pstate[K(me, p)] = MAPPED
            :: else
            fi
        fi;
        m = 0; p = 0; e = 0
       }
    :: atomic { crashes == 0 -> crashes++; crashed[me] = 1; goto dead }
    od;
dead:
end_dead:
    do   /* a crashed peer reads nothing more; what it issued may still land */
    :: atomic { CAN_LAND(me, 0) -> land(me, 0) }
    :: atomic { NPAGES > 1 && CAN_LAND(me, 1) -> land(me, 1) }
    od
}

init {
    atomic {
        run Peer(0);
        run Peer(1)
    }
}
