"""sim.results.losses: when each holder stopped being available, and when each generation was lost."""

from __future__ import annotations

from helpers import cheap
from sim.model import EA_USER, Account, User
from sim.results.losses import Losses


def escrowed(seed: int) -> tuple[Account, User]:
    """alice's phone and laptop (approved) hold generations 1 and 2, as do her backup key
    and her escrow device."""
    acc = Account(cheap(seed))
    u = acc.user("alice")
    u.add_device("phone", 0)
    u.add_device("laptop", 1)
    u.batch_approve("phone", 2)
    acc.create_backup_key("alice", "phone", "bk", 3)
    acc.enable_escrow("ea1", 4)
    acc.enroll_escrow("alice", "phone", 5)
    return acc, u


def test_a_generation_is_lost_when_its_last_available_holder_goes() -> None:
    acc, u = escrowed(41)
    assert u.holders(1) == u.holders(2) == ["phone", "laptop", "bk", "escrow"]
    u.gone("phone", 10, "lost")
    u.gone("laptop", 20, "wiped")
    losses = Losses(acc)
    assert losses.holder_gone("alice", "phone") == (10, "phone lost")
    assert losses.holder_gone("alice", "bk") == (None, "")
    assert losses.generation_lost("alice", 1) == (None, "")  # the backup key and escrow hold it
    u.gone("bk", 25, "paper_lost")
    assert Losses(acc).generation_lost("alice", 1) == (None, "")  # escrow still does


def test_an_escrow_device_is_gone_when_the_admins_lose_the_ea_generation_its_blob_is_sealed_to() -> None:
    acc, u = escrowed(43)
    for name, cause in (("phone", "lost"), ("laptop", "wiped"), ("bk", "paper_lost")):
        u.gone(name, 10, cause)
    assert acc.ea is not None
    acc.ea.gone("ea1", 30, "lost")
    assert Losses(acc).holder_gone("alice", "escrow") == (None, "")  # the EA backup key still opens it
    acc.ea.gone("ea-backup", 40, "paper_lost")
    losses = Losses(acc)
    assert losses.generation_lost(EA_USER, 1) == (40, "ea-backup paper_lost")
    unreachable = (40, "escrow unreachable: EA generation 1 lost (ea-backup paper_lost)")
    assert losses.holder_gone("alice", "escrow") == unreachable
    assert losses.generation_lost("alice", 1) == losses.generation_lost("alice", 2) == unreachable
    assert not acc.available("alice", "escrow")


def test_each_generation_counts_its_own_holders() -> None:
    """The phone, lost on day 5, is alone with generation 1; generation 2, made when the
    laptop joins on day 8, is boxed to both and lost with the laptop on day 12."""
    acc = Account(cheap(42))
    u = acc.user("alice")
    u.add_device("phone", 0)
    u.gone("phone", 5, "lost")
    u.add_device("laptop", 8)
    u.gone("laptop", 12, "wiped")
    assert (u.holders(1), u.holders(2)) == (["phone"], ["phone", "laptop"])
    losses = Losses(acc)
    assert losses.generation_lost("alice", 1) == (5, "phone lost")
    assert losses.generation_lost("alice", 2) == (12, "laptop wiped")
