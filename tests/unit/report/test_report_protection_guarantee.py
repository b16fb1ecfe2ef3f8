"""The threat-model section states what the protection that ran guarantees, and under what."""

from __future__ import annotations

from typing import Any

import pytest

from secfl.federation.config import RunConfig
from secfl.report.model import _protection_guarantee


def _config(**protection: Any) -> RunConfig:
    return RunConfig.from_dict({"protection": protection})


@pytest.mark.parametrize(
    ("protection", "expected", "absent"),
    [
        ({"kind": "none"}, "the server sees every update", "§"),
        ({"kind": "secagg", "malicious": False}, "honest-but-curious", "collude"),
        ({"kind": "secagg+"}, "at most 0 client(s) per holder set", "honest-but-curious"),
        ({"kind": "secagg", "corrupt": 2}, "at most 2 client(s) per holder set", "§9.1"),
        ({"kind": "paillier", "sign_inputs": False}, "trusts the aggregator's", "proofs"),
        ({"kind": "paillier"}, "whatever min_contributors is", "cannot isolate"),
        ({"kind": "paillier", "prove_inputs": True}, "cannot isolate", "whatever"),
    ],
)
def test_each_protection_variant_is_stated(
    protection: dict[str, Any], expected: str, absent: str
) -> None:
    text = _protection_guarantee(_config(**protection))
    assert expected in text
    assert absent not in text
