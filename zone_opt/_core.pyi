# Hand-written stub of the compiled module; `make lint` checks it with mypy.stubtest.
from collections.abc import Mapping
from typing import Any, Required, TypedDict

import numpy as np
import numpy.typing as npt

__version__: str
build_profile: str

USCC_CHARSET: str
USCC_WEIGHTS: list[int]

def num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def memory_budget() -> int: ...
def set_memory_budget(bytes: int) -> None: ...
def check_uscc_column(
    offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8]
) -> npt.NDArray[np.uint8]: ...
def dictionary_codes(
    offsets: npt.NDArray[np.int32] | npt.NDArray[np.int64], data: npt.NDArray[np.uint8]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...

# matching (exact assignment)
SPARSE_SCORE_SPAN: int

def assign_dense_i64(
    costs: npt.NDArray[np.int64],
    negate: bool = False,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    float,
]: ...
def assign_dense_f64(
    costs: npt.NDArray[np.float64],
    negate: bool = False,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    float,
]: ...
def union_edges(
    parent: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    n_rows: int,
) -> None: ...
def assign_sparse_i64(
    edges: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]],
    shape: tuple[int, int],
    perfect: bool,
    col_prices: npt.NDArray[np.float64] | None = None,
    auction: bool = True,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    bool,
    int,
    int,
]: ...

# --- matching: stable (deferred acceptance) and candidate generation ---
from typing import final  # noqa: E402

def deferred_acceptance(
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    proposer_scores: npt.NDArray[np.float64],
    receiver_scores: npt.NDArray[np.float64],
    capacities: npt.NDArray[np.int64],
    n_proposers: int | None = None,
) -> npt.NDArray[np.int64]: ...

CANDIDATE_REASONS: list[str]
SCORE_COMPONENTS: list[str]
SCORE_SCALE: int

@final
class CandidateIndex:
    def __new__(
        cls,
        *,
        parks: Mapping[str, npt.NDArray[Any]],
        spaces: Mapping[str, npt.NDArray[Any]],
        enterprises: Mapping[str, npt.NDArray[Any]],
        affinity: npt.NDArray[np.float64],
    ) -> CandidateIndex:
        """The index over three tables of named columns (every column listed, no other):

        - ``parks``: ``lat``, ``lon`` (float64, degrees), ``industry_mask`` (uint64 (n, 2)),
          ``remaining_co2e_t`` (float64), ``tenant_indptr`` (int64, n + 1),
          ``tenant_div`` (uint8), ``tenant_share`` (float64);
        - ``spaces``: ``park`` (uint32), ``area_m2``, ``floor_load_kn_m2``,
          ``ceiling_height_m``, ``power_kva``, ``rent_cny_per_m2_month`` (float64),
          ``hazardous_permit`` (bool), ``available_from_day`` (int32, days since
          1970-01-01), ``kind`` (uint8);
        - ``enterprises``: ``area_min_m2``, ``area_max_m2``, ``min_floor_load_kn_m2``,
          ``min_ceiling_height_m``, ``power_need_kva``, ``max_rent_cny_per_m2_month``,
          ``lat``, ``lon``, ``radius_km`` (float64), ``hazardous_process`` (bool),
          ``division`` (uint8), ``kinds_mask`` (uint8), ``chain_mask`` (uint64 (n, 2)),
          ``annual_co2e_t`` (float64).
        """
    @property
    def n_enterprises(self) -> int: ...
    @property
    def n_spaces(self) -> int: ...
    def generate(
        self,
        weights: tuple[float, float, float, float, float] | list[float],
        k: int,
        now_day: int,
        space_active: npt.NDArray[np.bool_] | None = None,
        enterprise_active: npt.NDArray[np.bool_] | None = None,
    ) -> tuple[
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.float64],
        npt.NDArray[np.uint8],
        npt.NDArray[np.int64],
    ]: ...
    def score_pairs(
        self,
        weights: tuple[float, float, float, float, float] | list[float],
        enterprise: npt.NDArray[np.int64],
        space: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...

# carbon
CARBON_MAX_TOTAL_G: int
CARBON_EXACT_MAX_TENANTS: int
CARBON_SHAPLEY_MAX_SAMPLES: int
CARBON_SCOPE2_MAX_FACTOR_UG_PER_WH: int

def carbon_allocate_pro_rata(
    total_g: npt.NDArray[np.int64], use_: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def carbon_shapley(
    use_: npt.NDArray[np.float64],
    load_points: npt.NDArray[np.float64],
    emission_points: npt.NDArray[np.float64],
    exact: bool | None = None,
    samples: int | None = None,
    seed: int = 0,
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64], int, int, bool, int
]: ...

class Scope2Options(TypedDict, total=False):
    """The optional inputs and switches of :func:`carbon_scope2` (``detail`` required)."""

    pv_share: npt.NDArray[np.int64] | None
    pv_priority: npt.NDArray[np.uint64] | None
    certificate_wh: npt.NDArray[np.int64] | None
    gate_import_wh: npt.NDArray[np.int64] | None
    gross_up_losses: bool
    detail: Required[bool]

def carbon_scope2(
    load_wh: npt.NDArray[np.int64],
    pv_wh: npt.NDArray[np.int64],
    contracts: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    factors_ug_per_wh: tuple[int, int],
    options: Scope2Options,
) -> dict[str, Any]: ...
def audit_merkle_root(offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8]) -> bytes: ...
def audit_merkle_proof(
    offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8], index: int
) -> list[bytes]: ...
def audit_verify(
    row: bytes, index: int, tree_size: int, path: list[bytes], root: bytes
) -> bool: ...
def audit_chain_head(previous: bytes, root: bytes) -> bytes: ...

# --- facilities: single-source plan search ---
def single_source_search(
    cost: npt.NDArray[np.float64],
    demand: npt.NDArray[np.float64],
    capacity: npt.NDArray[np.float64],
    fixed: npt.NDArray[np.float64],
    start: npt.NDArray[np.int64],
    *,
    time_limit_s: float,
    max_iterations: int,
    stall_iterations: int,
    seed: int = 0,
    stop_at_cost: float = ...,
) -> tuple[npt.NDArray[np.int64], float, int] | None: ...

# join (private joins: PSI protocols)
JOIN_TAG_LEN: int

def rfc9497_derive_key_pair(mode: str, seed: bytes, info: bytes) -> tuple[bytes, bytes]: ...
def rfc9497_blind(mode: str, input: bytes, blind_scalar: bytes) -> bytes: ...
def rfc9497_blind_evaluate(sk: bytes, blinded: bytes) -> bytes: ...
def rfc9497_finalize(input: bytes, blind_scalar: bytes, evaluated: bytes) -> bytes: ...
def rfc9497_generate_proof(
    sk: bytes, pk: bytes, blinded: list[bytes], evaluated: list[bytes], r: bytes
) -> bytes: ...
def rfc9497_verify_proof(
    pk: bytes, blinded: list[bytes], evaluated: list[bytes], proof: bytes
) -> bool: ...

class JoinSessionOptions(TypedDict, total=False):
    """The session options both parties give (``mode``, ``verifiable``, ``uscc``
    required); ``min_intersection`` is the sender's, ``left_join`` the receiver's."""

    mode: Required[str]
    verifiable: Required[bool]
    uscc: Required[bool]
    suite: str | None
    min_intersection: int
    left_join: bool

@final
class JoinSender:
    def __new__(
        cls,
        keys: tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]],
        options: JoinSessionOptions,
        payload: list[
            tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.bool_] | None]
        ]
        | None = None,
        schema: bytes = ...,
    ) -> JoinSender: ...
    def setup_message(self) -> bytes: ...
    def respond(self, request: bytes) -> bytes: ...
    @property
    def distinct_len(self) -> int: ...
    @property
    def receiver_len(self) -> int: ...
    @property
    def suite(self) -> str: ...
    @property
    def session(self) -> bytes: ...

@final
class JoinReceiver:
    def __new__(
        cls,
        keys: tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]],
        options: JoinSessionOptions,
        values: npt.NDArray[np.uint64] | None = None,
    ) -> JoinReceiver: ...
    def request(self, setup: bytes | None = None) -> bytes: ...
    def finish(
        self, setup: bytes, response: bytes
    ) -> tuple[
        npt.NDArray[np.int64],
        npt.NDArray[np.uint8],
        int,
        list[int],
        bytes,
        int | None,
        int | None,
    ]: ...
    @property
    def session(self) -> bytes: ...
    @property
    def suite(self) -> str: ...

@final
class VoleJoinSender:
    def __new__(
        cls, offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8], uscc: bool
    ) -> VoleJoinSender: ...
    def setup_message(self) -> bytes: ...
    def respond(self, message: bytes) -> bytes: ...
    @property
    def distinct_len(self) -> int: ...
    @property
    def receiver_len(self) -> int: ...
    @property
    def session(self) -> bytes: ...

@final
class VoleJoinReceiver:
    def __new__(
        cls, offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8], uscc: bool
    ) -> VoleJoinReceiver: ...
    def request(self, setup: bytes) -> bytes: ...
    def correction(self, vole: bytes) -> bytes: ...
    def finish(self, setup: bytes, response: bytes) -> npt.NDArray[np.int64]: ...
    @property
    def sender_len(self) -> int: ...
    @property
    def session(self) -> bytes: ...

@final
class VoleStreamSender:
    def __new__(cls, uscc: bool, buckets: int) -> VoleStreamSender: ...
    def hash_batch(
        self, offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8], first_row: int
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint32]]: ...
    def begin(self, distinct: int) -> None: ...
    def setup_part(self, part: int, hashes: npt.NDArray[np.uint8]) -> bytes: ...
    def respond_part(self, message: bytes) -> bytes: ...
    @property
    def padded_len(self) -> int: ...
    @property
    def receiver_len(self) -> int: ...
    @property
    def is_complete(self) -> bool: ...

@final
class VoleStreamReceiver:
    def __new__(cls, uscc: bool, buckets: int) -> VoleStreamReceiver: ...
    def hash_batch(
        self, offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8], first_row: int
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint32]]: ...
    def begin(self, distinct: int) -> None: ...
    def request_part(self, setup: bytes, hashes: npt.NDArray[np.uint8]) -> bytes: ...
    def correction_part(self, vole: bytes) -> bytes: ...
    def finish_part(self, response: bytes) -> npt.NDArray[np.int64]: ...
    @property
    def padded_len(self) -> int: ...
    @property
    def sender_len(self) -> int: ...
    @property
    def is_complete(self) -> bool: ...

@final
class JoinStreamSender:
    def __new__(cls, mode: str, verifiable: bool, uscc: bool, buckets: int) -> JoinStreamSender: ...
    def tags(
        self, offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8], first_row: int
    ) -> npt.NDArray[np.uint8]: ...
    def setup_part(self, part: int, tags: npt.NDArray[np.uint8]) -> bytes: ...
    def seal_to(self, public: bytes) -> bytes: ...
    @staticmethod
    def open_sealed(key: SealKey, sealed: bytes) -> JoinStreamSender: ...
    def admit_part(self, request: bytes) -> int: ...
    def respond_part(self, request: bytes) -> bytes: ...
    @property
    def receiver_len(self) -> int: ...
    @property
    def session(self) -> bytes: ...

@final
class SealKey:
    def __new__(cls) -> SealKey: ...
    @staticmethod
    def from_secret(secret: bytes) -> SealKey: ...
    @property
    def public(self) -> bytes: ...
    @property
    def key_id(self) -> bytes: ...
    def open(self, label: bytes, sealed: bytes) -> bytes: ...

def seal(public: bytes, label: bytes, plain: bytes) -> bytes: ...

JOIN_STREAM_SENDER_SEAL_LABEL: bytes
JOIN_STREAM_RECEIVER_SEAL_LABEL: bytes

@final
class JoinStreamReceiver:
    def __new__(
        cls, mode: str, verifiable: bool, uscc: bool, buckets: int
    ) -> JoinStreamReceiver: ...
    def partition(
        self, offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8], first_row: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.uint32]]: ...
    def request_part(
        self, part: int, offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8]
    ) -> bytes: ...
    def receive_part(self, response: bytes) -> npt.NDArray[np.uint8]: ...
    def seal_to(self, public: bytes) -> bytes: ...
    @staticmethod
    def open_sealed(key: SealKey, sealed: bytes) -> JoinStreamReceiver: ...
    def receive_for(
        self,
        part: int,
        keys: tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]],
        response: bytes,
    ) -> tuple[bytes, npt.NDArray[np.uint8]]: ...
    def match_for(
        self,
        part: int,
        sender_session: bytes,
        setup: bytes,
        tags_rows: tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]],
    ) -> npt.NDArray[np.int64]: ...
    def match_part(
        self, setup: bytes, tags: npt.NDArray[np.uint8], rows: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]: ...
    @property
    def is_complete(self) -> bool: ...
    @property
    def session(self) -> bytes: ...
