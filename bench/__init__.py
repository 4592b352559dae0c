"""zone-opt benchmarks: each suite compares zone-opt with its peers side by side.

Run ``python -m bench --size smoke|full [SUITE ...]``; see ``bench/README.md``.
"""
