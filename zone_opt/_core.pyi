# Hand-written stub of the compiled module; `make lint` checks it with mypy.stubtest.
import numpy as np
import numpy.typing as npt

__version__: str
build_profile: str

USCC_CHARSET: str
USCC_WEIGHTS: list[int]

def num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def check_uscc_column(
    offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8]
) -> npt.NDArray[np.uint8]: ...

# matching (exact assignment)
SPARSE_SCORE_SPAN: int

def assign_dense_i64(
    costs: npt.NDArray[np.int64],
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]: ...
def assign_dense_f64(
    costs: npt.NDArray[np.float64],
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]
]: ...
def assign_sparse_i64(
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    scores: npt.NDArray[np.int64],
    n_rows: int,
    n_cols: int,
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

# carbon
CARBON_MAX_TOTAL_G: int
CARBON_EXACT_MAX_TENANTS: int

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
def audit_merkle_root(offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8]) -> bytes: ...
def audit_merkle_proof(
    offsets: npt.NDArray[np.int64], data: npt.NDArray[np.uint8], index: int
) -> list[bytes]: ...
def audit_verify(
    row: bytes, index: int, tree_size: int, path: list[bytes], root: bytes
) -> bool: ...
def audit_chain_head(previous: bytes, root: bytes) -> bytes: ...
