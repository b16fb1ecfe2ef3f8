"""Message encoding: canonical round trips and typed rejection of malformed bytes."""

from __future__ import annotations

import contextlib
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from secagg_harness import Run

from secfl.errors import MalformedMessageError
from secfl.secagg.labels import PROTOCOL_VERSION
from secfl.secagg.messages import (
    CIPHERTEXT_SIZE,
    HEADER_SIZE,
    AdvertisedKeys,
    AdvertiseKeys,
    ConsistencyCheck,
    ConsistencyCheckRequest,
    EncryptedShare,
    MaskedInput,
    MaskedInputRequest,
    Message,
    RevealedShare,
    ShareKeys,
    ShareKeysRequest,
    SignedSurvivors,
    Unmask,
    UnmaskRequest,
    decode_message,
)

SESSION = bytes(range(32))


def _captured(malicious: bool) -> list[Message]:
    run = Run(4, malicious=malicious, d=3)
    run.finish()
    out: list[Message] = []
    for requests in run.requests.values():
        out.extend(requests.values())
    for replies in run.replies.values():
        out.extend(replies.values())
    return out


ALL = _captured(True) + _captured(False)


def test_every_message_type_was_captured() -> None:
    kinds = {type(m) for m in ALL}
    assert kinds == {
        AdvertiseKeys,
        ShareKeysRequest,
        ShareKeys,
        MaskedInputRequest,
        MaskedInput,
        ConsistencyCheckRequest,
        ConsistencyCheck,
        UnmaskRequest,
        Unmask,
    }


@pytest.mark.parametrize("msg", ALL, ids=lambda m: type(m).__name__)
def test_round_trip_is_exact_and_canonical(msg: Message) -> None:
    data = msg.encode()
    assert data[0] == PROTOCOL_VERSION == 2  # version byte
    again = decode_message(data)
    assert again == msg
    assert again.encode() == data
    assert type(msg).decode(data) == msg


@pytest.mark.parametrize("msg", ALL, ids=lambda m: type(m).__name__)
def test_every_truncation_and_extension_is_malformed(msg: Message) -> None:
    data = msg.encode()
    cuts = range(len(data)) if len(data) < 2000 else [*range(HEADER_SIZE + 20), len(data) - 1]
    for cut in cuts:
        with pytest.raises(MalformedMessageError):
            decode_message(data[:cut])
    with pytest.raises(MalformedMessageError):
        decode_message(data + b"\x00")


@pytest.mark.parametrize("msg", ALL[:9], ids=lambda m: type(m).__name__)
def test_bad_version_and_type_bytes(msg: Message) -> None:
    data = bytearray(msg.encode())
    for version in (0, 1, 3, 255):  # 1: protocol v1 messages are refused too
        data[0] = version
        with pytest.raises(MalformedMessageError):
            decode_message(bytes(data))
    data[0] = PROTOCOL_VERSION
    for kind in (0, 10, 255):
        data[1] = kind
        with pytest.raises(MalformedMessageError):
            decode_message(bytes(data))


def test_decoding_as_the_wrong_class_is_malformed() -> None:
    adv = next(m for m in ALL if isinstance(m, AdvertiseKeys))
    with pytest.raises(MalformedMessageError):
        ShareKeys.decode(adv.encode())


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_but_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedMessageError):
        decode_message(data)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sampled_from(ALL), st.data())
def test_mutated_bytes_never_raise_anything_but_malformed(
    msg: Message, data: st.DataObject
) -> None:
    raw = bytearray(msg.encode())
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] = data.draw(st.integers(0, 255))
    try:
        decoded = decode_message(bytes(raw))
    except MalformedMessageError:
        return
    assert decoded.encode() == bytes(raw)  # still canonical


def _ids(n: int) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(0, 2**64 - 1), max_size=n, unique=True).map(
        lambda xs: tuple(sorted(xs))
    )


MESSAGES = st.one_of(
    st.builds(
        AdvertiseKeys,
        session_id=st.binary(min_size=32, max_size=32),
        round_id=st.integers(0, 2**64 - 1),
        sender=st.integers(0, 2**64 - 1),
        c_pk=st.binary(min_size=32, max_size=32),
        s_pk=st.binary(min_size=32, max_size=32),
        signature=st.sampled_from([b"", b"s" * 64]),
    ),
    st.builds(
        ConsistencyCheckRequest,
        session_id=st.just(SESSION),
        round_id=st.integers(0, 2**64 - 1),
        receiver=st.integers(0, 2**64 - 1),
        survivors=_ids(20),
    ),
    st.builds(
        UnmaskRequest,
        session_id=st.just(SESSION),
        round_id=st.just(1),
        receiver=st.just(3),
        survivors=_ids(10),
        dropped=_ids(10),
        signatures=_ids(5).map(
            lambda xs: tuple(SignedSurvivors(signer=x, signature=b"q" * 64) for x in xs)
        ),
    ),
    st.builds(
        MaskedInput,
        session_id=st.just(SESSION),
        round_id=st.just(1),
        sender=st.just(2),
        bits=st.just(32),
        masked=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=50).map(
            lambda xs: np.array(xs, dtype=np.uint32)
        ),
    ),
    st.builds(
        MaskedInput,
        session_id=st.just(SESSION),
        round_id=st.just(1),
        sender=st.just(2),
        bits=st.just(40),
        masked=st.lists(st.integers(0, 2**40 - 1), min_size=1, max_size=50).map(
            lambda xs: np.array(xs, dtype=np.uint64)
        ),
    ),
    st.builds(
        ShareKeys,
        session_id=st.just(SESSION),
        round_id=st.just(1),
        sender=st.just(2),
        commitment=st.binary(min_size=32, max_size=32),
        shares=_ids(6).map(
            lambda xs: tuple(EncryptedShare(peer=x, ciphertext=b"c" * CIPHERTEXT_SIZE) for x in xs)
        ),
    ),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(MESSAGES)
def test_hypothesis_round_trip(msg: Message) -> None:
    assert decode_message(msg.encode()) == msg


def test_constructor_validation_is_typed() -> None:
    good = {"session_id": SESSION, "round_id": 1, "receiver": 1}
    bad_cases = [
        (ConsistencyCheckRequest, {**good, "survivors": (2, 1)}),  # not increasing
        (ConsistencyCheckRequest, {**good, "survivors": (1, 1)}),  # duplicate
        (ConsistencyCheckRequest, {**good, "survivors": [1, 2]}),  # not a tuple
        (ConsistencyCheckRequest, {**good, "survivors": (True,)}),  # bool is not an id
        (ConsistencyCheckRequest, {**good, "survivors": (2**64,)}),
        (ConsistencyCheckRequest, {**good, "session_id": b"x", "survivors": ()}),
        (ConsistencyCheckRequest, {**good, "round_id": -1, "survivors": ()}),
        (UnmaskRequest, {**good, "survivors": (), "dropped": (), "signatures": (1,)}),
    ]
    for cls, kwargs in bad_cases:
        with pytest.raises(MalformedMessageError):
            cls(**kwargs)
    with pytest.raises(MalformedMessageError):
        AdvertisedKeys(client=1, c_pk=b"x" * 32, s_pk=b"y" * 32, signature=b"z" * 10)
    with pytest.raises(MalformedMessageError):
        RevealedShare(owner=1, share=b"\xff" * 36)  # not a field element
    with pytest.raises(MalformedMessageError):
        Unmask(
            session_id=SESSION,
            round_id=1,
            sender=1,
            b_shares=(RevealedShare(owner=2, share=bytes(36)),),
            sk_shares=(RevealedShare(owner=2, share=bytes(36)),),
        )
    with pytest.raises(MalformedMessageError):
        MaskedInput(
            session_id=SESSION, round_id=1, sender=1, bits=8, masked=np.array([256], np.uint32)
        )
    with pytest.raises(MalformedMessageError):
        MaskedInput(
            session_id=SESSION, round_id=1, sender=1, bits=32, masked=np.array([1], np.uint64)
        )
    with pytest.raises(MalformedMessageError):
        ConsistencyCheck(session_id=SESSION, round_id=1, sender=1, signature=b"s")


def test_masked_input_is_read_only_and_length_checked() -> None:
    msg = next(m for m in ALL if isinstance(m, MaskedInput))
    assert not msg.masked.flags.writeable
    data = bytearray(msg.encode())
    struct.pack_into("<Q", data, HEADER_SIZE + 1, 2**41)  # absurd length field
    with pytest.raises(MalformedMessageError):
        decode_message(bytes(data))


def test_repr_hides_shares_and_ciphertexts() -> None:
    share = RevealedShare(owner=1, share=bytes(range(36)))
    box = EncryptedShare(peer=1, ciphertext=bytes(CIPHERTEXT_SIZE))
    assert bytes(range(36)).hex() not in repr(share)
    assert "ciphertext" not in repr(box)


def test_survivor_validation_is_safe_from_several_threads() -> None:
    # The validated-ids cache is shared: concurrent construction must neither raise
    # an untyped error nor accept a malformed list.
    from concurrent.futures import ThreadPoolExecutor

    from secfl.secagg.messages import UnmaskRequest
    from secfl.types import ClientId

    def build(seed: int) -> int:
        made = 0
        for j in range(200):
            survivors = tuple(ClientId(seed * 10_000 + j * 100 + i) for i in range(80))
            UnmaskRequest(
                session_id=bytes(32),
                round_id=1,
                receiver=survivors[0],
                survivors=survivors,
                dropped=(),
            )
            made += 1
        with pytest.raises(MalformedMessageError):
            UnmaskRequest(
                session_id=bytes(32),
                round_id=1,
                receiver=ClientId(1),
                survivors=tuple(ClientId(i) for i in range(80, 0, -1)),
                dropped=(),
            )
        return made

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(build, range(16))) == 16 * 200
