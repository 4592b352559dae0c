"""Privacy-preserving joins: "usable but not visible" data sharing between two parties.

- :class:`PsiServer` / :class:`PsiClient`: one PSI session (intersection, labelled join,
  cardinality, intersection-sum; optionally verifiable), messages as bytes; with
  ``protocol="vole"`` the fast VOLE-based intersection (RR22).
- :class:`PsiResult`: what the receiver learned (indices, payload, count, sum);
  :func:`joined` appends the payload to the receiver's rows.
- :class:`StreamingPsiServer` / :class:`StreamingPsiClient`: the intersection for sets
  larger than memory, bucket by bucket from Parquet or record batches, bounded memory.
"""

from zone_opt.privacy.psi import (
    Mode,
    Protocol,
    PsiClient,
    PsiResult,
    PsiServer,
    joined,
    setup_key_kind,
    setup_protocol,
)
from zone_opt.privacy.stream import StreamingPsiClient, StreamingPsiServer, StreamStats

__all__ = [
    "Mode",
    "Protocol",
    "PsiClient",
    "PsiResult",
    "PsiServer",
    "StreamStats",
    "StreamingPsiClient",
    "StreamingPsiServer",
    "joined",
    "setup_key_kind",
    "setup_protocol",
]
