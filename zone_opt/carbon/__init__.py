"""Carbon accounting: emissions allocated in integer grams, exact hour by hour, with an
audit trail.

- :func:`allocate_pro_rata`: divide hourly totals by metered use (largest remainder).
- :func:`shapley_allocation`: Shapley values of a shared facility with a piecewise-linear
  emission curve, exact for small tenant counts, sampled with standard errors beyond.
- :func:`merkle_root`, :func:`proof`, :func:`verify`, :func:`chain_head`: an RFC 6962
  Merkle tree over canonical result rows (:func:`canonical_row`).
"""

from zone_opt.carbon.allocation import (
    ProRataAllocation,
    ShapleyAllocation,
    allocate_pro_rata,
    allocate_pro_rata_pooled,
    shapley_allocation,
)
from zone_opt.carbon.audit import (
    GENESIS,
    MerkleProof,
    canonical_row,
    chain_head,
    merkle_root,
    proof,
    verify,
)

__all__ = [
    "GENESIS",
    "MerkleProof",
    "ProRataAllocation",
    "ShapleyAllocation",
    "allocate_pro_rata",
    "allocate_pro_rata_pooled",
    "canonical_row",
    "chain_head",
    "merkle_root",
    "proof",
    "shapley_allocation",
    "verify",
]
