"""SecAggParams, RoundContext, IdentityPKI and the communication graph."""

from __future__ import annotations

import pytest

from secfl.crypto.random import CSPRNG
from secfl.crypto.signature import SigningKey
from secfl.errors import ConfigurationError, UnexpectedMessageError
from secfl.secagg import (
    CommunicationGraph,
    GraphKind,
    IdentityPKI,
    RoundContext,
    SecAggParams,
    Stage,
    default_degree,
)
from secfl.types import ClientId, RoundId


def test_defaults_follow_the_spec() -> None:
    p = SecAggParams(num_clients=100)
    assert (p.graph, p.t, p.k, p.holders, p.bits, p.malicious) == (
        GraphKind.COMPLETE,
        51,
        99,
        100,
        32,
        True,
    )
    q = SecAggParams(num_clients=100, graph="harary")
    assert q.k == 14  # 2 * ceil(log2 100)
    assert q.t == 8  # floor(15 / 2) + 1
    assert SecAggParams(num_clients=1000, graph="harary").k == 20
    assert default_degree(5) == 4
    assert default_degree(3) == 2
    with pytest.raises(ConfigurationError):
        SecAggParams(num_clients=2, graph="harary")  # no even degree below n - 1 = 1
    assert SecAggParams(num_clients=10, bits=64).dtype.name == "uint64"
    assert SecAggParams(num_clients=10, bits=20).dtype.name == "uint32"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_clients": 1},
        {"num_clients": 10, "threshold": 0},
        {"num_clients": 10, "threshold": 11},
        {"num_clients": 10, "threshold": 5},  # INV-6: malicious needs t > n/2
        {"num_clients": 10, "graph": "ring"},
        {"num_clients": 10, "graph": "harary", "degree": 3},  # odd
        {"num_clients": 10, "graph": "harary", "degree": 10},  # > n - 1
        {"num_clients": 10, "graph": "harary", "degree": 4, "threshold": 2},
        {"num_clients": 10, "graph": "complete", "degree": 4},
        {"num_clients": 10, "bits": 1},
        {"num_clients": 10, "bits": 65},
        {"num_clients": True},
        {"num_clients": 10, "corrupt": -1},
        {"num_clients": 10, "corrupt": True},
        {"num_clients": 10, "corrupt": 10},  # as many as the holders
        {"num_clients": 10, "corrupt": 2, "threshold": 6},  # A4: 2t > n + c
        {"num_clients": 10, "corrupt": 3, "threshold": 3, "malicious": False},  # t <= c
    ],
)
def test_invalid_parameters_are_configuration_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        SecAggParams(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "graph", "c"), [(10, "complete", 3), (100, "harary", 2), (50, "harary", 5)]
)
def test_default_threshold_meets_the_corruption_bound(n: int, graph: str, c: int) -> None:
    # secagg.md A4: 2t > holders + c, with the smallest such t (the most dropouts tolerated).
    p = SecAggParams(num_clients=n, graph=graph, corrupt=c)
    assert 2 * p.t > p.holders + c
    assert 2 * (p.t - 1) <= p.holders + c
    assert SecAggParams(num_clients=n, graph=graph, corrupt=c, threshold=p.t).t == p.t
    with pytest.raises(ConfigurationError, match="corrupt"):
        SecAggParams(num_clients=n, graph=graph, corrupt=c, threshold=p.t - 1)


def test_honest_mode_allows_low_threshold() -> None:
    assert SecAggParams(num_clients=10, threshold=2, malicious=False).t == 2


def test_stage_names_parse() -> None:
    assert Stage.parse("ShareKeys") is Stage.SHARE_KEYS
    assert Stage.parse("UNMASKING") is Stage.UNMASKING
    assert [s.code for s in Stage] == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigurationError):
        Stage.parse("Setup")


def test_round_context_validation() -> None:
    ctx = RoundContext(session_id=bytes(32), round_id=RoundId(1), roster=(5, 3, 9), vector_length=4)
    assert ctx.roster == (3, 5, 9)
    assert [ctx.point(ClientId(c)) for c in (3, 5, 9)] == [1, 2, 3]
    with pytest.raises(UnexpectedMessageError):
        ctx.point(ClientId(4))
    for bad in (
        {"session_id": bytes(31)},
        {"roster": (1, 1)},
        {"roster": (-1, 2)},
        {"vector_length": 0},
        {"round_id": -1},
    ):
        kwargs: dict[str, object] = {
            "session_id": bytes(32),
            "round_id": 1,
            "roster": (1, 2),
            "vector_length": 1,
        }
        kwargs.update(bad)
        with pytest.raises(ConfigurationError):
            RoundContext(**kwargs)  # type: ignore[arg-type]


def test_pki() -> None:
    key = SigningKey.generate(CSPRNG(0))
    pki = IdentityPKI({1: key.verify_key, 2: key.verify_key.raw})
    assert pki.verify_key(ClientId(2)) == key.verify_key
    assert pki.covers([1, 2])
    assert not pki.covers([1, 3])
    with pytest.raises(UnexpectedMessageError):
        pki.verify_key(ClientId(3))
    with pytest.raises(ConfigurationError):
        IdentityPKI({1: b"short"})


def _ctx(session: bytes, n: int) -> RoundContext:
    return RoundContext(
        session_id=session, round_id=RoundId(1), roster=tuple(range(100, 100 + n)), vector_length=1
    )


@pytest.mark.parametrize(("n", "k"), [(8, 2), (9, 4), (30, 6), (101, 14)])
def test_harary_graph_is_k_regular_symmetric_and_public(n: int, k: int) -> None:
    params = SecAggParams(num_clients=n, graph="harary", degree=k)
    graph = CommunicationGraph(params, _ctx(b"a" * 32, n))
    assert not graph.is_complete
    roster = _ctx(b"a" * 32, n).roster
    for u in roster:
        nb = graph.neighbours(u)
        assert len(nb) == k
        assert u not in nb
        assert graph.holders(u) == nb | {u}
        for v in nb:
            assert u in graph.neighbours(v)
    # Every client computes the same graph from public data; another session differs.
    again = CommunicationGraph(params, _ctx(b"a" * 32, n))
    other = CommunicationGraph(params, _ctx(b"b" * 32, n))
    assert all(graph.neighbours(u) == again.neighbours(u) for u in roster)
    assert any(graph.neighbours(u) != other.neighbours(u) for u in roster)


def test_complete_graph() -> None:
    params = SecAggParams(num_clients=5)
    graph = CommunicationGraph(params, _ctx(bytes(32), 5))
    assert graph.is_complete
    assert graph.neighbours(ClientId(100)) == frozenset(range(101, 105))
