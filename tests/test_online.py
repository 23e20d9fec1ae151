"""sim.behaviour.online: when a device is online, a lazily drawn schedule of sessions (OnlineSchedule)."""

from __future__ import annotations

import numpy as np

from helpers import events, run
from sim.behaviour.online import OnlineSchedule


class Fixed:
    """Draws of a constant, recording how many were asked for each time."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.asked: list[int] = []

    def __call__(self, n: int) -> np.ndarray:
        self.asked.append(n)
        return np.full(n, self.value)


def sessions(start: float = 0.0) -> tuple[OnlineSchedule, Fixed, Fixed]:
    """A gap of 1 day, then a session of half a day, again and again: from ``start`` = 0,
    sessions [1, 1.5), [2.5, 3), [4, 4.5) … (session k from 1 + 1.5k), 64 per block of 96 days."""
    gap, length = Fixed(1.0), Fixed(0.5)
    return OnlineSchedule(start, "sessions", gap, length), gap, length


# ---------------------------------------------------------------- always and never


def test_an_always_online_device_is_online_at_once_and_a_never_online_one_never() -> None:
    always, never = OnlineSchedule(0.0, "always"), OnlineSchedule(0.0, "never")
    assert [always.next_online(t) for t in (0.0, 3.25, 1e6)] == [0.0, 3.25, 1e6]
    assert [never.next_online(t) for t in (0.0, 3.25, 1e6)] == [None, None, None]


# ---------------------------------------------------------------- drawn sessions


def test_inside_a_session_the_device_is_online_now_and_between_sessions_at_the_next_start() -> None:
    schedule, _, _ = sessions()
    assert schedule.next_online(0.0) == 1.0  # before the first session: when it starts
    assert schedule.next_online(1.0) == 1.0  # a session includes its start
    assert schedule.next_online(1.2) == 1.2  # inside: now
    assert schedule.next_online(1.5) == 2.5  # ... and not its end
    assert schedule.next_online(2.0) == 2.5
    assert schedule.next_online(95.9) == 95.9  # the last session of the first block, [95.5, 96)
    assert schedule.next_online(96.0) == 97.0  # the first of the next block


def test_sessions_count_from_the_start_of_the_schedule() -> None:
    schedule, _, _ = sessions(start=10.0)
    assert schedule.next_online(0.0) == 11.0 and schedule.next_online(11.4) == 11.4
    assert schedule.next_online(11.5) == 12.5


def test_sessions_are_drawn_in_blocks_only_as_far_as_someone_asks() -> None:
    schedule, gap, length = sessions()
    assert gap.asked == length.asked == []  # nothing drawn before a question
    schedule.next_online(0.0)
    assert gap.asked == length.asked == [64]  # one block: sessions up to day 96
    schedule.next_online(50.0)
    schedule.next_online(95.9)
    assert gap.asked == [64]  # answered from the block drawn
    schedule.next_online(96.0)
    assert gap.asked == length.asked == [64, 64]
    schedule.next_online(1000.0)
    assert gap.asked == [64] * 11  # up to day 1056, the first block end past day 1000
    assert schedule.next_online(40.0) == 40.0  # earlier sessions are kept: [40, 40.5)


def test_the_sessions_drawn_do_not_depend_on_the_questions_asked() -> None:
    def schedule() -> OnlineSchedule:
        rng = np.random.default_rng(4)
        return OnlineSchedule(0.0, "sessions", lambda n: rng.exponential(2.0, n), lambda n: rng.exponential(0.1, n))

    step_by_step, far_first = schedule(), schedule()
    steps = [step_by_step.next_online(t / 4) for t in range(4 * 300)]
    far = far_first.next_online(300.0)  # every block up to day 300 drawn at once
    assert [far_first.next_online(t / 4) for t in range(4 * 300)] == steps
    assert step_by_step.next_online(300.0) == far
    assert all(s is not None and s >= t / 4 for t, s in enumerate(steps))
    assert any(s is not None and s > t / 4 for t, s in enumerate(steps))  # offline between sessions


# ---------------------------------------------------------------- scripted online and offline


def test_a_scripted_online_keeps_a_device_online_until_a_scripted_offline() -> None:
    schedule = OnlineSchedule(0.0, "never")
    assert schedule.next_online(5.0) is None
    schedule.set(5.0, True)
    assert schedule.next_online(3.0) is None  # before the script said so
    assert [schedule.next_online(t) for t in (5.0, 7.0, 100.0)] == [5.0, 7.0, 100.0]
    schedule.set(9.0, False)
    assert schedule.next_online(8.0) == 8.0
    assert schedule.next_online(9.0) is None and schedule.next_online(50.0) is None


def test_a_scripted_online_between_sessions_lasts_until_offline_then_sessions_resume() -> None:
    schedule, _, _ = sessions()
    schedule.set(2.0, True)
    assert schedule.next_online(2.0) == 2.0 and schedule.next_online(2.2) == 2.2  # between [1, 1.5) and [2.5, 3)
    schedule.set(3.2, False)
    assert schedule.next_online(3.2) == 4.0  # the next drawn session


def test_a_scripted_offline_ends_the_current_session_only() -> None:
    schedule, _, _ = sessions()
    schedule.set(1.2, False)  # inside [1, 1.5)
    assert schedule.next_online(1.2) == 2.5 and schedule.next_online(1.4) == 2.5
    assert schedule.next_online(2.7) == 2.7  # the next session is whole


def test_a_scripted_offline_keeps_an_always_online_device_offline_until_a_scripted_online() -> None:
    schedule = OnlineSchedule(0.0, "always")
    schedule.set(4.0, False)
    assert schedule.next_online(3.0) == 3.0
    assert schedule.next_online(4.0) is None and schedule.next_online(11.0) is None
    schedule.set(12.0, True)
    assert schedule.next_online(11.0) is None
    assert schedule.next_online(12.0) == 12.0 and schedule.next_online(30.0) == 30.0


def test_a_device_the_person_uses_is_online_at_that_instant_only() -> None:
    """Scripted actions by a device (an approval, say) put it online at their instant."""
    never, between = OnlineSchedule(0.0, "never"), sessions()[0]
    never.used(5.0)
    between.used(2.0)  # between the sessions [1, 1.5) and [2.5, 3)
    assert (never.next_online(5.0), never.next_online(5.5)) == (5.0, None)
    assert (between.next_online(2.0), between.next_online(2.1)) == (2.0, 2.5)

def test_a_prompt_waits_for_the_approver_to_be_scripted_online() -> None:
    """The phone shows the laptop's prompt on day 1 but is only online from day 5: it
    approves then; an always-online phone scripted offline from day 0.5 to day 5 too."""
    never = run("""
behaviour: {approval: {probability: 1.0, delay: 0d}}
users:
  - name: alice
    devices: [{name: phone, online: never}, {name: laptop, joins_at: 1d}]
timeline:
  - {at: 5d, action: online, user: alice, device: phone}
""")
    assert events(never, "batch_approve") == [(5.0, "phone", "laptop")]
    always = run("""
behaviour: {approval: {probability: 1.0, delay: 0d}}
users:
  - name: alice
    devices: [{name: phone}, {name: laptop, joins_at: 1d}]
timeline:
  - {at: 0.5d, action: offline, user: alice, device: phone}
  - {at: 5d, action: online, user: alice, device: phone}
""")
    assert events(always, "batch_approve") == [(5.0, "phone", "laptop")]
