"""Consumer groups from Python: two members of one group on one real producer
share its partitions ('assigned' / 'revoked' events in order with the
records), every record is processed once in all, and when one member closes
(committing what it polled) its partitions move to the other with no record
twice. Every loop is bounded in count and in time."""
import datetime
import time

import pytest

import brook

PARTITIONS = 4


def member(p, **kwargs):
    return brook.Consumer([(p.pub_endpoint, p.replay_endpoint)], ["orders"], group="billing",
                          group_session_timeout=1.5,
                          group_heartbeat_interval=datetime.timedelta(milliseconds=100),
                          auto_commit_interval=0.0, **kwargs)


class Group:
    """What the members did, checked as it happens (one thread polls all)."""

    def __init__(self):
        self.holder = {}      # partition -> member index
        self.next = {}        # partition -> offset expected next
        self.seen = {}        # (partition, offset) -> member index
        self.assigned = []    # (member, partition, from)
        self.revoked = []     # (member, partition, from)
        self.errors = []

    def take(self, m, items):
        for x in items:
            if isinstance(x, brook.Event):
                if x.kind == "assigned":
                    if x.partition in self.holder:
                        self.errors.append(f"{m} assigned {x.partition} held by "
                                           f"{self.holder[x.partition]}")
                    if x.partition in self.next and x.from_offset != self.next[x.partition]:
                        self.errors.append(f"{x.partition} handed over at {x.from_offset}, "
                                           f"the last owner stopped at {self.next[x.partition]}")
                    self.holder[x.partition] = m
                    self.next[x.partition] = x.from_offset
                    self.assigned.append((m, x.partition, x.from_offset))
                elif x.kind == "revoked":
                    if self.holder.get(x.partition) != m:
                        self.errors.append(f"{m} lost {x.partition}, which it did not hold")
                    self.holder.pop(x.partition, None)
                    self.revoked.append((m, x.partition, x.from_offset))
                else:
                    self.errors.append(f"unexpected event {x!r}")
                continue
            at = (x.partition, x.offset)
            if self.holder.get(x.partition) != m:
                self.errors.append(f"{m} got {at} without holding the partition")
            if x.offset != self.next.get(x.partition):
                self.errors.append(f"{at}: expected offset {self.next.get(x.partition)}")
            if at in self.seen:
                self.errors.append(f"{at} twice (members {self.seen[at]} and {m})")
            if x.payload != f"{x.partition}:{x.offset}".encode():
                self.errors.append(f"{at}: payload {x.payload!r}")
            self.seen[at] = m
            self.next[x.partition] = x.offset + 1

    def poll_until(self, members, done, seconds=30, rounds=5000):
        deadline = time.monotonic() + seconds
        for _ in range(rounds):
            if done() or time.monotonic() > deadline:
                break
            for i, c in enumerate(members):
                if c is not None:
                    self.take(i, c.poll(timeout=0.01, max_records=50))
        assert not self.errors, self.errors[:5]
        return done()


def publish(p, start, n):
    for part in range(PARTITIONS):
        p.publish_batch("orders", [f"{part}:{o}" for o in range(start, start + n)],
                        partition=part)


def settled(g, total, holders):
    return (len(g.seen) == PARTITIONS * total and len(g.holder) == PARTITIONS
            and all(g.next.get(part) == total for part in range(PARTITIONS))
            and set(g.holder.values()) == set(holders))


def test_two_members_share_the_partitions_and_hand_over_on_close(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="nosync", heartbeat_interval=0.05) as p:
        p.create_topic("orders", partitions=PARTITIONS)
        publish(p, 0, 50)
        g = Group()
        members = [member(p), member(p)]
        try:
            # The first member heard may get every partition at first; they
            # spread (revoke before assign) once both heartbeat.
            assert g.poll_until(members, lambda: settled(g, 50, {0, 1})), (
                g.holder, len(g.seen), g.assigned, g.revoked)
            assert {part for (_, part, _) in g.assigned} == set(range(PARTITIONS))
            assert {m for (m, _, _) in g.assigned} == {0, 1}

            # Settled: each partition's new records come from its one holder.
            owners = dict(g.holder)
            moves = (len(g.assigned), len(g.revoked))
            publish(p, 50, 30)
            assert g.poll_until(members, lambda: len(g.seen) == PARTITIONS * 80)
            assert (len(g.assigned), len(g.revoked)) == moves
            for (part, offset), m in g.seen.items():
                if offset >= 50:
                    assert m == owners[part], (part, offset)

            # Member 1 leaves: close commits what it polled and leaves the
            # group, so its partitions move to member 0 from where it stopped.
            gone = {part for part, m in owners.items() if m == 1}
            members[1].close()
            members[1] = None
            for part in gone:
                g.holder.pop(part)  # its 'revoked' events were never polled
            publish(p, 80, 20)
            assert g.poll_until(members, lambda: settled(g, 100, {0})), (
                g.holder, len(g.seen))
            for part in gone:
                assert (0, part, 80) in g.assigned, g.assigned
            assert len(g.seen) == PARTITIONS * 100  # every record once in all
        finally:
            for c in members:
                if c is not None:
                    c.close()


def test_group_arguments_are_checked(tmp_path):
    with brook.Producer(str(tmp_path / "j"), durability="nosync") as p:
        p.create_topic("orders")
        ends = [(p.pub_endpoint, p.replay_endpoint)]
        with pytest.raises(brook.InvalidArgument, match="name"):
            brook.Consumer(ends, ["orders"], name="n", state_dir=str(tmp_path / "s"),
                           group="billing")
        with pytest.raises(brook.InvalidArgument, match="group"):
            brook.Consumer(ends, ["orders"], group_session_timeout=5)
        with pytest.raises(brook.InvalidArgument, match="group"):
            brook.Consumer(ends, ["orders"], group="")
        with pytest.raises(TypeError, match="group_session_timeout"):
            brook.Consumer(ends, ["orders"], group="billing", group_session_timeout="5s")
        with pytest.raises(brook.InvalidArgument, match="group_session_timeout"):
            brook.Consumer(ends, ["orders"], group="billing", group_session_timeout=120)
        with pytest.raises(brook.InvalidArgument, match="group_heartbeat_interval"):
            brook.Consumer(ends, ["orders"], group="billing", group_session_timeout=3,
                           group_heartbeat_interval=2)
        # A short session alone brings the heartbeat down to a third of it.
        brook.Consumer(ends, ["orders"], group="billing",
                       group_session_timeout=datetime.timedelta(milliseconds=300)).close()
