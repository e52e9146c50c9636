import pytest

from agencyos.common.sealing import Sealer, Unsealable


def test_a_sealed_secret_opens_with_its_key_purpose_and_context() -> None:
    sealer = Sealer("kek", purpose="tests v1")
    stored = sealer.seal(b"s3cret", context="row:1")
    assert b"s3cret" not in stored.encode()
    assert stored.startswith("v1.")
    assert sealer.open(stored, context="row:1") == b"s3cret"


def test_two_seals_of_one_secret_differ() -> None:
    sealer = Sealer("kek", purpose="tests v1")
    assert sealer.seal(b"x", context="c") != sealer.seal(b"x", context="c")


@pytest.mark.parametrize(
    ("key", "purpose", "context"),
    [
        ("other-kek", "tests v1", "row:1"),
        ("kek", "tests v2", "row:1"),
        ("kek", "tests v1", "row:2"),
    ],
    ids=["another-key", "another-purpose", "another-row"],
)
def test_a_sealed_secret_does_not_open_elsewhere(key: str, purpose: str, context: str) -> None:
    stored = Sealer("kek", purpose="tests v1").seal(b"s3cret", context="row:1")
    with pytest.raises(Unsealable):
        Sealer(key, purpose=purpose).open(stored, context=context)


@pytest.mark.parametrize("stored", ["", "v1.", "v1.!!!", "v2.AAAA", "plain"])
def test_a_tampered_or_foreign_value_does_not_open(stored: str) -> None:
    with pytest.raises(Unsealable):
        Sealer("kek", purpose="tests v1").open(stored, context="row:1")


def test_a_flipped_byte_does_not_open() -> None:
    sealer = Sealer("kek", purpose="tests v1")
    stored = sealer.seal(b"s3cret", context="row:1")
    flipped = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    with pytest.raises(Unsealable):
        sealer.open(flipped, context="row:1")
