package org.memreg.odp;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The protocol over a simulated network: one owner, a few peers, lossless FIFO channels both ways
 * per peer, RMA operations in flight that land at the owner and then complete, peers that crash
 * and reconnect under a new id, and a step clock for leases. Every step checks the model's safety
 * properties; {@link #quiesce()} then checks that every fault was answered and nothing is stuck.
 * A mutant switch makes peers acknowledge before draining, to show the checks catch it.
 */
final class OdpSimulation {
    final SplittableRandom random;
    final int pages;
    final long lease;
    final boolean ackEarly;
    final OwnerPageTable owner;
    final boolean[] resident;
    final List<String> violations = new ArrayList<>();
    final List<SimPeer> peers = new ArrayList<>();
    final List<Op> zombies = new ArrayList<>();
    final List<SimPeer> allPeers = new ArrayList<>();
    long now;
    long nextId = 1;
    long landed;
    long refused;

    static final class Op {
        final SimPeer peer;
        final PageRange range;
        boolean landed;

        Op(SimPeer peer, PageRange range) {
            this.peer = peer;
            this.range = range;
        }
    }

    final class SimPeer {
        final long id;
        final PeerPageTable table;
        final ArrayDeque<OdpMessage> toPeer = new ArrayDeque<>();
        final ArrayDeque<OdpMessage> toOwner = new ArrayDeque<>();
        final List<Op> ops = new ArrayList<>();
        boolean crashed;

        SimPeer(long id) {
            this.id = id;
            this.table = new PeerPageTable(id, pages, toOwner::add);
        }
    }

    OdpSimulation(long seed, int pages, int peerCount, long lease, boolean ackEarly) {
        this.random = new SplittableRandom(seed);
        this.pages = pages;
        this.lease = lease;
        this.ackEarly = ackEarly;
        this.resident = new boolean[pages];
        java.util.Arrays.fill(resident, true);
        this.owner = new OwnerPageTable(pages, new PageMemory() {
            @Override
            public void release(PageRange range) {
                for (int p = range.first(); p < range.end(); p++) {
                    if (!resident[p]) {
                        violations.add("release of a page already released: " + p);
                    }
                    resident[p] = false;
                }
            }

            @Override
            public void establish(PageRange range) {
                for (int p = range.first(); p < range.end(); p++) {
                    if (resident[p]) {
                        violations.add("establish of a resident page: " + p);
                    }
                    resident[p] = true;
                }
            }
        }, new OwnerPageTable.Outbox() {
            @Override
            public void send(long peer, OdpMessage message) {
                for (SimPeer p : allPeers) {
                    if (p.id == peer) {
                        p.toPeer.add(message);
                        return;
                    }
                }
                violations.add("message to unknown peer " + peer);
            }
        }, lease);
        for (int i = 0; i < peerCount; i++) {
            connect();
        }
    }

    SimPeer connect() {
        SimPeer p = new SimPeer(nextId++);
        owner.connect(p.id);
        peers.add(p);
        allPeers.add(p);
        return p;
    }

    PageRange randomRange(int maxCount) {
        int first = random.nextInt(pages);
        int count = 1 + random.nextInt(Math.min(maxCount, pages - first));
        return new PageRange(first, count);
    }

    /** One random step; returns false when nothing could be done. */
    void step(boolean reclaimAndAccess) {
        now++;
        int choice = random.nextInt(100);
        if (reclaimAndAccess && choice < 10) {
            owner.reclaim(randomRange(4), now);
        } else if (reclaimAndAccess && choice < 35) {
            SimPeer p = peers.get(random.nextInt(peers.size()));
            if (!p.crashed) {
                PageRange r = randomRange(3);
                if (p.table.tryBegin(r)) {
                    p.ops.add(new Op(p, r));
                }
            }
        } else if (choice < 55) {
            deliverToOwner(peers.get(random.nextInt(peers.size())));
        } else if (choice < 75) {
            SimPeer p = peers.get(random.nextInt(peers.size()));
            if (!p.crashed) {
                deliverToPeer(p);
            }
        } else if (choice < 85) {
            landSome();
        } else if (choice < 97) {
            SimPeer p = peers.get(random.nextInt(peers.size()));
            completeSome(p);
        } else if (reclaimAndAccess && choice < 98 && random.nextInt(10) == 0) {
            peers.get(random.nextInt(peers.size())).crashed = true;
        } else {
            expireAndReconnect();
        }
        checkSafety();
    }

    void deliverToOwner(SimPeer p) {
        OdpMessage m = p.toOwner.poll();
        if (m instanceof OdpMessage.Ack a) {
            owner.onAck(a);
        } else if (m instanceof OdpMessage.Fault f) {
            owner.onFault(f);
        } else if (m != null) {
            violations.add("owner got " + m);
        }
    }

    void deliverToPeer(SimPeer p) {
        OdpMessage m = p.toPeer.poll();
        if (m instanceof OdpMessage.Invalidate i) {
            if (ackEarly) { // mutant: acknowledge at once, operations still in flight
                p.toOwner.add(new OdpMessage.Ack(p.id, i.range(), i.epoch()));
            }
            p.table.onInvalidate(i);
        } else if (m instanceof OdpMessage.Established e) {
            p.table.onEstablished(e);
        } else if (m != null) {
            violations.add("peer got " + m);
        }
    }

    void landSome() {
        List<Op> candidates = new ArrayList<>(zombies);
        for (SimPeer p : peers) {
            for (Op op : p.ops) {
                if (!op.landed) {
                    candidates.add(op);
                }
            }
        }
        if (candidates.isEmpty()) {
            return;
        }
        land(candidates.get(random.nextInt(candidates.size())));
    }

    void land(Op op) {
        if (op.landed) {
            return;
        }
        op.landed = true;
        zombies.remove(op);
        if (owner.isCutOff(op.peer.id)) {
            refused++; // its key was revoked: the NIC refuses the access
            return;
        }
        landed++;
        if (!owner.accessAllowed(op.peer.id, op.range)) {
            violations.add("step " + now + ": RMA of peer " + op.peer.id + " on " + op.range + " not allowed");
        }
        for (int p = op.range.first(); p < op.range.end(); p++) {
            if (!resident[p] || owner.state(p) == OwnerPageState.RECLAIMED) {
                violations.add("step " + now + ": RMA of peer " + op.peer.id + " reached reclaimed page " + p);
            }
        }
    }

    void completeSome(SimPeer p) {
        if (p.crashed) {
            return;
        }
        for (Iterator<Op> it = p.ops.iterator(); it.hasNext();) {
            Op op = it.next();
            if (op.landed) {
                it.remove();
                p.table.end(op.range);
                return;
            }
        }
    }

    void expireAndReconnect() {
        owner.expireLeases(now);
        for (int i = 0; i < peers.size(); i++) {
            SimPeer p = peers.get(i);
            if (owner.isCutOff(p.id)) { // crashed or too slow: a new incarnation, empty table
                for (Op op : p.ops) {
                    if (!op.landed) {
                        zombies.add(op);
                    }
                }
                peers.remove(i);
                allPeers.remove(p);
                i--;
                connect();
            }
        }
    }

    void checkSafety() {
        for (SimPeer p : peers) {
            if (owner.isCutOff(p.id)) {
                continue;
            }
            for (int page = 0; page < pages; page++) {
                PeerPageState s = p.table.state(page);
                if ((s == PeerPageState.MAPPED || s == PeerPageState.DRAINING) && !owner.maps(p.id, page)) {
                    violations.add("step " + now + ": peer " + p.id + " has page " + page + " " + s
                            + " but the owner thinks it does not map it (" + owner.state(page) + ")");
                }
                if (owner.maps(p.id, page) && owner.state(page) == OwnerPageState.RECLAIMED) {
                    violations.add("step " + now + ": page " + page + " reclaimed while mapped by " + p.id);
                }
            }
        }
    }

    /** No new reclaims or accesses: crashed peers are cut off, everything else drains. */
    void quiesce() {
        for (int round = 0; round < 100_000; round++) {
            boolean busy = false;
            for (SimPeer p : new ArrayList<>(peers)) {
                for (Op op : new ArrayList<>(p.ops)) {
                    land(op);
                }
                completeSome(p);
                busy |= !p.toOwner.isEmpty() || (!p.crashed && !p.toPeer.isEmpty()) || (!p.crashed && !p.ops.isEmpty());
                deliverToOwner(p);
                if (!p.crashed) {
                    deliverToPeer(p);
                }
            }
            for (Op op : new ArrayList<>(zombies)) {
                land(op);
            }
            checkSafety();
            if (!busy) {
                if (owner.pendingReclaims() == 0) {
                    return;
                }
                now += lease;
                expireAndReconnect();
            }
        }
        violations.add("did not quiesce");
    }

    /** What must hold once quiet: every fault answered, no reclaim or invalidation left. */
    void checkQuiet() {
        if (owner.pendingReclaims() != 0) {
            violations.add("reclaims left: " + owner.pendingReclaims());
        }
        if (owner.waitingFaultPages() != 0) {
            violations.add("faults left waiting at the owner: " + owner.waitingFaultPages());
        }
        for (SimPeer p : peers) {
            if (p.crashed) {
                continue; // a crashed peer reads nothing; the owner cuts it off when a reclaim needs it
            }
            if (p.table.faultingPages() != 0) {
                violations.add("peer " + p.id + " has unanswered faults on " + p.table.faultingPages() + " pages");
            }
            if (p.table.pendingInvalidations() != 0) {
                violations.add("peer " + p.id + " has unacknowledged invalidations");
            }
            for (int page = 0; page < pages; page++) {
                if (p.table.state(page) == PeerPageState.DRAINING) {
                    violations.add("peer " + p.id + " page " + page + " still draining");
                }
            }
        }
        for (int page = 0; page < pages; page++) {
            boolean present = owner.state(page) != OwnerPageState.RECLAIMED;
            if (present != resident[page]) {
                violations.add("page " + page + " is " + owner.state(page) + " but resident=" + resident[page]);
            }
        }
    }
}
