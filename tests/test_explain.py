"""sim.results.explain: why a device can or cannot read a message, as a chain of facts."""

from __future__ import annotations

from pathlib import Path

import sim
from helpers import SCENARIOS, exposed, invoke, run_file


def test_explain_agrees_with_the_tables(tmp_path: Path) -> None:
    invoke("run", str(SCENARIOS / "help_article.yaml"), "--out", str(tmp_path), "--no-charts")
    code, out, _ = invoke("explain", str(tmp_path), "--message", "m1", "--device", "tablet")
    assert code == 0
    assert "generation 1" in out and "Status: lost." in out
    assert "holds no box for generation 1" in out
    assert "phone (physical, boxed day 0 by phone, unavailable since day 30: phone lost)" in out
    assert "permanently lost" in out and "tablet cannot decrypt it" in out
    assert "left the user's hands" not in out and "No adversary key decrypts it." in out
    code, out, _ = invoke("explain", str(tmp_path), "--message", "m3", "--device", "tablet")
    assert "Status: readable." in out and "tablet decrypts it" in out
    # read back from the files, every explanation is the one of the run in memory
    r = sim.run(SCENARIOS / "help_article.yaml")
    for m in r.messages["message_id"]:
        for d in r.devices["device"]:
            assert invoke("explain", str(tmp_path), "--message", m, "--device", d)[1] == r.explain(m, d) + "\n"
    code, _, err = invoke("explain", str(tmp_path), "--message", "m999", "--device", "tablet")
    assert code == 2 and err.strip() == "dmesim: no message 'm999'"
    code, _, err = invoke("explain", str(tmp_path / "nope"), "--message", "m1", "--device", "tablet")
    assert code == 2 and "not a run folder" in err


def test_explain_a_backup_key_as_what_it_gives_back() -> None:
    r = run_file("only_device_lost_backup", behaviour__backup_keys__use_when_stranded=False)
    text = r.explain("m1", "backup-1")
    assert "Status: recoverable." in text and "holds a box for generation 1" in text
    assert "backup-1 is a backup key, not a device that reads: a device it is recovered onto is " \
           "given generation 1." in text and "cannot decrypt" not in text


def test_explain_reports_exposure(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sim.results import Result

    r = run_file("server_device")
    r.write(tmp_path, parquet=False)
    msg = exposed(r, "server:alice/ghost").iloc[0]["message_id"]
    back = Result.read(tmp_path)
    text = back.explain(msg, "phone")
    assert all(back.explain(m, "phone") == r.explain(m, "phone") for m in r.messages["message_id"])
    assert "Exposed to server:alice/ghost" in text and "until day 40" in text
    ghost = back.explain(msg, "ghost")
    assert "ghost was added by the server: it was never in the user's hands." in ghost
    assert "left the user's hands" not in ghost and "ghost was revoked on day 40." in ghost
    clean = r.messages[r.messages["exposed_to"] == ""].iloc[0]["message_id"]
    assert "No adversary key decrypts it." in r.explain(clean, "phone")


def test_explain_tells_how_a_compromised_ea_device_reads_a_members_message() -> None:
    """Nothing is boxed to the EA device's keys on alice's chain: it reads through escrow."""
    r = run_file("ea_compromise")
    holders = r.holders[(r.holders["user"] == "alice") & (r.holders["generation"] == 1)]
    assert set(holders["holder"]) == {"phone", "escrow"}
    text = r.explain("m1", "phone")
    assert ("Exposed to ea:admin-laptop: it opens alice's escrow blob with the EA generation it holds, then "
            "the escrow device's box for generation 1 with the keys in the blob, and decrypts the message") in text
    assert "box sealed to its keys" not in text
