"""Public parameters of packed Paillier aggregation (spec: protocols/paillier.md §2-§3).

:class:`PaillierConfig` is what every role (client, aggregator, decryptor)
must agree on. It fixes the quantisation (the foundation's
:class:`~secfl.encoding.FixedPointEncoder`, never ``phe``'s float encoding,
which sends each value's exponent in clear), the slot layout, and the
minimum-contributor policy, and it refuses at construction time any layout
in which the sum of ``max_clients`` inputs could carry out of a slot.

Slot layout of one client's input (``L = d + [1 if weighted] + 1`` slots)::

    slot index   0 .. d-1              d (weighted only)   L-1
    content      q_j + M               q_w                 1   (the counter)
    range        [0, 2M]               [0, M_w]            {1}

where ``q_j`` in ``[-M, M]`` is the quantised (weighted) coordinate, ``M`` the
encoder's per-client magnitude bound and ``q_w`` the quantised weight. Slots
are ``k = value_bits + ceil(log2(max_clients))`` bits wide, ``floor((bits-1)/k)``
per plaintext, filled in order (slot ``i`` goes to plaintext ``i // s``,
position ``i % s``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from secfl.crypto.packing import SlotPacker
from secfl.crypto.paillier import ALLOWED_KEY_BITS, PaillierPublicKey
from secfl.crypto.paillier_pok import MIN_FACTOR_BITS
from secfl.encoding import FixedPointEncoder, WeightedEncoder
from secfl.errors import ConfigurationError

__all__ = ["LABEL_LAYOUT", "LAYOUT_ID_SIZE", "PaillierConfig"]

LABEL_LAYOUT = b"secfl/v1/he/paillier/layout"
LAYOUT_ID_SIZE = 16  # bytes
_MAX_VALUE_BITS = 48  # keeps k <= 64 bits and the encoder's scale exact for large N


@dataclass(frozen=True, slots=True, kw_only=True)
class PaillierConfig:
    """Parameters shared by all roles of a packed Paillier aggregation.

    Attributes:
        dimension: length ``d`` of every update vector.
        clip: coordinate bound; clients clip ``x`` to ``[-clip, clip]``.
        max_clients: the most inputs one aggregate (and one round) may hold;
            sizes the slot headroom.
        min_contributors: an aggregate is decrypted only if its counter slot
            says at least this many clients contributed.
        value_bits: quantisation bits ``b`` per client value (8, 16, 32, ...).
        max_weight: ``None`` for plain sums; otherwise clients send ``(w*x, w)``
            with ``0 <= w <= max_weight`` so the server can form a weighted mean.
        noise_bound: integer magnitude reserved per client for noise added to
            the quantised values (distributed DP); 0 when none.
        key_bits: the Paillier modulus size all parties use.
        allow_insecure_key: accept test-only key sizes below 2048 bits.
        prove_inputs: every input carries a zero-knowledge proof that its
            signer knows the plaintext of each ciphertext, and the decryptor
            refuses any input without a valid one (paillier.md §4.1, §7.4,
            INV-12). Needs signed inputs. Closes the single-colluder attack
            of §7.3 at about 2.25x the client's time, 1.85x the decryptor's
            and 3.1x the input size (paillier.md §9.3).

    Derived attributes (set at construction):
        slot_bits: slot width ``k = value_bits + ceil(log2(max_clients))``.
        slots_per_plaintext: ``floor((key_bits - 1) / k)``.
        num_slots: ``d + [1] + 1`` slots per input (data, weight, counter).
        num_ciphertexts: ciphertexts per input.
        values: encoder of the (weighted) coordinates.
        weights: encoder of the weight (``None`` unless weighted).
        offset: ``M``, added to each quantised coordinate so slots are non-negative.
        layout_id: 16-byte digest of every parameter above, bound into messages.
    """

    dimension: int
    clip: float
    max_clients: int
    min_contributors: int
    value_bits: int = 16
    max_weight: float | None = None
    noise_bound: int = 0
    key_bits: int = 2048
    allow_insecure_key: bool = False
    prove_inputs: bool = False

    slot_bits: int = field(init=False)
    slots_per_plaintext: int = field(init=False)
    num_slots: int = field(init=False)
    num_ciphertexts: int = field(init=False)
    values: FixedPointEncoder = field(init=False, repr=False, compare=False)
    weights: FixedPointEncoder | None = field(init=False, repr=False, compare=False)
    offset: int = field(init=False)
    layout_id: bytes = field(init=False, repr=False)
    packer: SlotPacker = field(init=False, repr=False, compare=False)
    _slot_offsets: NDArray[np.uint64] = field(init=False, repr=False, compare=False)
    _slot_bounds: NDArray[np.uint64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        def positive_int(name: str, value: object) -> int:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(f"{name} must be an integer >= 1, got {value!r}")
            return value

        def finite_positive(name: str, value: object) -> None:
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ConfigurationError(f"{name} must be a positive finite number, got {value!r}")

        finite_positive("clip", self.clip)
        if self.max_weight is not None:
            finite_positive("max_weight", self.max_weight)
        if not isinstance(self.noise_bound, int) or isinstance(self.noise_bound, bool):
            raise ConfigurationError(f"noise_bound must be an integer, got {self.noise_bound!r}")
        d = positive_int("dimension", self.dimension)
        n_max = positive_int("max_clients", self.max_clients)
        m_min = positive_int("min_contributors", self.min_contributors)
        if m_min > n_max:
            raise ConfigurationError(
                f"min_contributors ({m_min}) cannot exceed max_clients ({n_max})"
            )
        b = positive_int("value_bits", self.value_bits)
        if not 2 <= b <= _MAX_VALUE_BITS:
            raise ConfigurationError(f"value_bits must be in [2, {_MAX_VALUE_BITS}], got {b}")
        if not isinstance(self.allow_insecure_key, bool):
            raise ConfigurationError("allow_insecure_key must be a bool")
        if not isinstance(self.prove_inputs, bool):
            raise ConfigurationError("prove_inputs must be a bool")
        kb = self.key_bits
        if not isinstance(kb, int) or isinstance(kb, bool):
            raise ConfigurationError(f"key_bits must be an integer, got {kb!r}")
        if kb not in ALLOWED_KEY_BITS and not (
            self.allow_insecure_key and 256 <= kb < 2048 and kb % 16 == 0
        ):
            raise ConfigurationError(
                f"key_bits must be one of {ALLOWED_KEY_BITS}, got {kb}"
                " (test-only sizes need allow_insecure_key=True)"
            )
        if self.prove_inputs and kb // 2 < MIN_FACTOR_BITS:
            # paillier.md §4.1: the challenge space must stay below both prime factors.
            raise ConfigurationError(
                f"prove_inputs needs key_bits >= {2 * MIN_FACTOR_BITS} (factors above 2^128)"
            )
        headroom = (n_max - 1).bit_length()  # ceil(log2(max_clients))
        k = b + headroom
        if k > 64:
            raise ConfigurationError(
                f"slot width {k} bits (value_bits {b} + headroom {headroom}) exceeds 64"
            )
        weighted = self.max_weight is not None
        # The encoders refuse (ConfigurationError) any scale at which the signed
        # sum of max_clients inputs would leave [-(2^(k-1) - 1), 2^(k-1) - 1].
        weights: FixedPointEncoder | None
        if weighted:
            assert self.max_weight is not None
            pair = WeightedEncoder(
                clip=self.clip,
                max_weight=self.max_weight,
                num_clients=n_max,
                bits=k,
                noise_bound=self.noise_bound,
            )
            values, weights = pair.values, pair.weights
        else:
            values = FixedPointEncoder(
                clip=self.clip, num_clients=n_max, bits=k, noise_bound=self.noise_bound
            )
            weights = None
        offset = values.max_magnitude
        num_slots = d + (1 if weighted else 0) + 1
        offsets = np.zeros(num_slots, dtype=np.uint64)
        offsets[:d] = offset
        bounds = np.ones(num_slots, dtype=np.uint64)  # counter slot: exactly 1 per client
        bounds[:d] = 2 * offset
        if weights is not None:
            bounds[d] = weights.max_magnitude
        # paillier.md INV-4: the sum of max_clients inputs fits in every slot,
        # so no carry can cross into the neighbouring slot.
        slot_max = (1 << k) - 1
        worst = n_max * int(bounds.max())
        if worst > slot_max:
            raise ConfigurationError(
                f"the sum of {n_max} inputs can reach {worst} > 2^{k} - 1 in one slot:"
                " lower the scale or raise value_bits"
            )
        slots = (kb - 1) // k
        if slots < 1:
            raise ConfigurationError(f"a {k}-bit slot does not fit in a {kb}-bit key")
        packer = SlotPacker(slot_bits=k, slots=slots)
        set_ = object.__setattr__
        set_(self, "clip", float(self.clip))
        set_(self, "max_weight", None if not weighted else float(self.max_weight))  # type: ignore[arg-type]
        set_(self, "slot_bits", k)
        set_(self, "slots_per_plaintext", slots)
        set_(self, "num_slots", num_slots)
        set_(self, "num_ciphertexts", math.ceil(num_slots / slots))
        set_(self, "values", values)
        set_(self, "weights", weights)
        set_(self, "offset", offset)
        set_(self, "packer", packer)
        set_(self, "_slot_offsets", offsets)
        set_(self, "_slot_bounds", bounds)
        set_(self, "layout_id", self._digest())

    @property
    def weighted(self) -> bool:
        """Whether inputs carry a weight slot."""
        return self.max_weight is not None

    @property
    def counter_index(self) -> int:
        """Index of the counter slot (the last slot)."""
        return self.num_slots - 1

    @property
    def slot_offsets(self) -> NDArray[np.uint64]:
        """Per-slot offset added by each client (read-only view)."""
        view = self._slot_offsets.view()
        view.flags.writeable = False
        return view

    @property
    def slot_bounds(self) -> NDArray[np.uint64]:
        """Per-slot largest value one client may put in the slot (read-only view)."""
        view = self._slot_bounds.view()
        view.flags.writeable = False
        return view

    def canonical(self) -> dict[str, object]:
        """The parameters hashed into :attr:`layout_id` (floats in exact hex form)."""
        return {
            "version": 2,
            "prove_inputs": self.prove_inputs,
            "dimension": self.dimension,
            "clip": float(self.clip).hex(),
            "max_clients": self.max_clients,
            "min_contributors": self.min_contributors,
            "value_bits": self.value_bits,
            "max_weight": None if self.max_weight is None else float(self.max_weight).hex(),
            "noise_bound": self.noise_bound,
            "key_bits": self.key_bits,
            "slot_bits": self.slot_bits,
            "slots_per_plaintext": self.slots_per_plaintext,
            "value_scale": float(self.values.scale).hex(),
            "weight_scale": None if self.weights is None else float(self.weights.scale).hex(),
            "offset": self.offset,
        }

    def _digest(self) -> bytes:
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(LABEL_LAYOUT + blob).digest()[:LAYOUT_ID_SIZE]

    def check_key(self, key: PaillierPublicKey) -> None:
        """Raise :class:`ConfigurationError` unless ``key`` has the configured size."""
        if key.bits != self.key_bits:
            raise ConfigurationError(
                f"the configuration expects a {self.key_bits}-bit key, got {key.bits} bits"
            )
        if key.test_only and not self.allow_insecure_key:
            raise ConfigurationError("test-only key used without allow_insecure_key=True")
