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

# --- matching: stable (deferred acceptance) and candidate generation ---
def deferred_acceptance(
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    proposer_scores: npt.NDArray[np.float64],
    receiver_scores: npt.NDArray[np.float64],
    capacities: npt.NDArray[np.int64],
    n_proposers: int | None = None,
) -> npt.NDArray[np.int64]: ...
