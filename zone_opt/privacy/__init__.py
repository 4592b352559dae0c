"""Deprecated: the private-join package's old name; use :mod:`zone_opt.join`.

Every old public name resolves to its new one with a DeprecationWarning until zone-opt 0.2
(CHANGELOG.md lists the renames).
"""

from zone_opt._deprecated import renamed

__getattr__ = renamed(
    __name__,
    {
        "PsiServer": "zone_opt.join:JoinSender",
        "PsiClient": "zone_opt.join:JoinReceiver",
        "PsiResult": "zone_opt.join:JoinResult",
        "StreamingPsiServer": "zone_opt.join:StreamingJoinSender",
        "StreamingPsiClient": "zone_opt.join:StreamingJoinReceiver",
        "StreamStats": "zone_opt.join:StreamStats",
        "Mode": "zone_opt.join:Mode",
        "Protocol": "zone_opt.join:Protocol",
        "joined": "zone_opt.join:joined",
        "setup_key_kind": "zone_opt.join:setup_key_kind",
        "setup_protocol": "zone_opt.join:setup_protocol",
        "rfc9497": "zone_opt.join.rfc9497:",
    },
)
