"""The event log gets every step state the engine published, even those sent while the store was
down, restarting or not yet subscribed: gaps in ``StepState.seq`` (and the engine's heartbeat, which
says the last one it sent) make the store ask the engine for its backlog.

The pure parts (``Gaps``, the engine's ``Journal``) are checked on their own; the store node is
driven message by message against a stand-in engine that answers ``backlog`` on a real socket.
The whole thing under faults (a killed store, a late subscription) is in test_fault_injection.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cell.bus import CommandServer
from cell.config import StoreSettings
from cell.config_loader import load_config
from cell.messages import Allocation, Backlog, EngineCommand, Heartbeat, Message, StepState, encode
from cell.nodes.engine_node import Journal
from cell.nodes.store_node import StoreNode
from cell.nodes import RunOptions
from cell.store import EventStore, Gaps
from tests.helpers_nodes import running_bus, serving

EXAMPLE = Path(__file__).resolve().parents[1] / "configs" / "lamp-cell.yaml"


def state(seq: int, step: str = "screw_stem") -> StepState:
    return StepState(src="engine", t=float(seq), seq=seq, order_id="o-1", task_id="desk-lamp", step_id=step,
                     step_index=2, step_count=11, phase="active", assignee="operator", unit=1, units_total=1)


def alloc(step: str) -> Allocation:
    return Allocation(src="engine", t=0.5, order_id="o-1", step_id=step, unit=1, assignee="operator",
                      policy="static", reason="the operator's step")


# ---------------------------------------------------------------- Gaps (pure)

def test_an_empty_log_opens_no_gap_before_the_first_state_it_hears_from_the_start():
    g = Gaps(None)
    g.heard(1)
    g.heard(2)
    assert g.missing == set() and g.last == 2


def test_a_state_after_a_gap_opens_the_gap_and_the_backlog_closes_it():
    g = Gaps(10)
    g.heard(14)
    assert g.missing == {11, 12, 13} and g.after() == 10
    g.heard(12)
    g.heard(13)
    assert g.give_up(latest=14) == ([(11, 11)], [])   # 11 not in the backlog: lost from this log
    assert g.missing == set()


def test_the_engine_heartbeat_shows_states_the_log_never_heard():
    g = Gaps(5)
    g.engine_at(5)
    assert g.missing == set()
    g.engine_at(8)           # 6, 7, 8 went out while the store was not listening
    assert g.missing == {6, 7, 8} and g.after() == 5


def test_states_not_yet_sent_when_the_engine_answered_stay_missing():
    g = Gaps(5)
    g.engine_at(9)
    g.heard(6)
    assert g.give_up(latest=7) == ([(7, 7)], [])     # 8 and 9 were not sent yet when it answered
    assert g.missing == {8, 9}


def test_what_an_engine_sent_before_an_empty_log_began_is_not_a_loss_of_the_log():
    g = Gaps(None)
    g.engine_at(500)         # a resumed engine; this log is new
    assert g.give_up(latest=500) == ([], [(1, 500)])
    g.engine_at(503)
    assert g.give_up(latest=503) == ([(501, 503)], [])   # from now on a gap is a loss


def test_a_gap_wider_than_the_engine_can_keep_waits_only_for_what_it_may_still_have():
    g = Gaps(None, limit=100)
    g.engine_at(8_000_000)   # a new log beside an engine that has run for a year
    assert len(g.missing) == 100 and g.after() == 7_999_900
    assert g.give_up(latest=8_000_000) == ([], [(1, 8_000_000)])
    g = Gaps(10, limit=100)
    g.heard(1_000)
    assert g.give_up(latest=999) == ([(11, 999)], [])


def test_an_engine_that_started_over_is_followed_without_claiming_a_gap():
    g = Gaps(40)
    g.heard(1)               # a fresh engine state: its count starts again
    assert g.missing == set() and g.last == 1 and g.restarts == 1
    g = Gaps(40)
    g.engine_at(0)
    assert g.missing == set() and g.last == 0 and g.restarts == 1


# ---------------------------------------------------------------- the engine's journal (pure)

def test_the_journal_gives_everything_after_the_state_asked_for():
    j = Journal(size=100)
    msgs = [state(1), alloc("b"), state(2), state(3), alloc("c"), state(4)]
    for m in msgs:
        j.add(m, encode(m))
    assert j.after(2) == [encode(m) for m in msgs[3:]]
    assert j.after(4) == []
    assert j.after(0) == [encode(m) for m in msgs]        # not kept (or never was): all it has
    assert j.oldest() == 1


def test_the_journal_is_bounded_and_says_what_it_still_keeps():
    j = Journal(size=3)
    for seq in range(1, 6):
        j.add(state(seq), encode(state(seq)))
    assert j.oldest() == 3
    assert j.after(1) == [encode(state(s)) for s in (3, 4, 5)]


# ---------------------------------------------------------------- the store node against a stand-in engine

class StandInEngine:
    """Answers ``backlog`` with what it was given (the journal of a real engine is tested above)."""

    def __init__(self, published: list[Message]):
        self.journal = Journal()
        for m in published:
            self.journal.add(m, encode(m))
        self.asked: list[int] = []
        self.latest = max((m.seq for m in published if isinstance(m, StepState)), default=0)

    def __call__(self, msg: Message) -> Message | None:
        assert isinstance(msg, EngineCommand) and msg.action == "backlog", msg
        self.asked.append(msg.after_seq)
        return Backlog(src="engine", t=time.monotonic(), after_seq=msg.after_seq, oldest_seq=self.journal.oldest(),
                       latest_seq=self.latest, messages=self.journal.after(msg.after_seq))


@pytest.fixture
def store_at(tmp_path):
    """A StoreNode on a test bus with a stand-in engine; yields (make, rows) helpers."""
    cfg = load_config(EXAMPLE)
    cfg = cfg.model_copy(update={"store": StoreSettings(path=tmp_path / "events.sqlite")})
    with running_bus() as (ctx, ep, _proxy):
        nodes: list[StoreNode] = []

        def make(engine: StandInEngine):
            server = CommandServer(ctx, ep.engine)
            node = StoreNode(cfg, ep, RunOptions(state_dir=str(tmp_path)))
            nodes.append(node)
            return node, serving(server, engine), server

        def rows() -> list[tuple[str, int | str]]:
            s = EventStore(tmp_path / "events.sqlite")
            try:
                return [(e["type"], e.get("seq", e.get("step_id"))) for e in s.events()]
            finally:
                s.close()
        yield make, rows, tmp_path
        for n in nodes:
            n.close()


def test_states_missed_before_a_state_are_written_before_it(store_at):
    make, rows, _ = store_at
    published = [state(1), alloc("b"), state(2), state(3), state(4), state(5)]
    engine = StandInEngine(published)
    node, answering, server = make(engine)
    with answering:
        node.on_message(state(1), 1.0)
        node.on_message(state(4), 2.0)      # 2, 3 (and the allocation) went by unheard
        node.on_message(state(5), 2.1)      # heard on the bus after all: not taken from the backlog
        node._flush()
    server.close()
    assert engine.asked == [1]
    assert rows() == [("StepState", 1), ("Allocation", "b"), ("StepState", 2), ("StepState", 3),
                      ("StepState", 4), ("StepState", 5)]
    assert node.counters["recovered"] == 2 and node.counters["lost"] == 0


def test_a_store_back_after_a_crash_fills_in_what_the_engine_sent_meanwhile(store_at):
    make, rows, tmp_path = store_at
    before = EventStore(tmp_path / "events.sqlite")
    before.append_many([state(9), state(10)])
    before.close()
    engine = StandInEngine([state(13), state(14)])   # it keeps 13 on: 11 and 12 are gone
    node, answering, server = make(engine)
    with answering:
        node.on_message(Heartbeat(src="engine", t=3.0, seq=7, counters={"step_seq": 14}), 3.0)
        node._flush()
    server.close()
    assert engine.asked == [10]
    assert [seq for kind, seq in rows() if kind == "StepState"] == [9, 10, 13, 14]
    assert node.counters["lost"] == 2 and node.counters["recovered"] == 2


def test_a_state_heard_twice_is_written_once(store_at):
    make, rows, _ = store_at
    node, answering, server = make(StandInEngine([state(1)]))
    with answering:
        node.on_message(state(1), 1.0)
        node.on_message(state(1), 1.5)      # re-sent from the outbox of a restarted engine
        node.on_message(Heartbeat(src="engine", t=2.0, seq=3, counters={"step_seq": 1}), 2.0)
        node._flush()
    server.close()
    assert rows() == [("StepState", 1)]
    assert node.counters["duplicates"] == 1


def test_an_engine_that_starts_afresh_is_logged_without_asking_for_a_backlog(store_at):
    make, rows, tmp_path = store_at
    before = EventStore(tmp_path / "events.sqlite")
    before.append_many([state(40)])
    before.close()
    engine = StandInEngine([])
    node, answering, server = make(engine)
    with answering:
        node.on_message(Heartbeat(src="engine", t=1.0, seq=1, counters={"step_seq": 0}), 1.0)
        node.on_message(state(1), 1.5)
        node._flush()
    server.close()
    assert engine.asked == []
    assert [seq for kind, seq in rows() if kind == "StepState"] == [40, 1]
    assert node.counters["lost"] == 0


def test_what_the_event_log_has_not_confirmed_is_saved_and_taken_back_after_a_restart():
    j = Journal(size=100, keep=3)
    assert j.unlogged() == []                        # no event log heard: nothing to keep for it
    msgs = [state(1), state(2), alloc("c"), state(3), state(4)]
    for m in msgs:
        j.add(m, encode(m))
    j.logged = 2                                     # the store's heartbeat: 1 and 2 are in its file
    saved = j.unlogged()
    assert saved == [encode(m) for m in msgs[2:]][-3:]
    again = Journal()
    again.load(saved)                                # the engine restarted
    assert again.after(2) == saved and again.oldest() == 3
    assert again.unlogged() == saved                 # still owed to the log until it says so


def test_a_delete_does_not_make_the_log_ask_the_engine_for_the_deleted_states_again(tmp_path):
    log = EventStore(tmp_path / "events.sqlite", operator_id="op-novice-01")
    log.append_many([state(1), state(2), state(3)])
    assert log.delete_operator("op-novice-01") == 3
    log.close()
    again = EventStore(tmp_path / "events.sqlite")
    try:
        assert again.count("StepState") == 0
        assert again.last_step_seq() == 3     # a restarted store starts from here, not from "nothing yet"
    finally:
        again.close()
