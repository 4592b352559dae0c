"""Peer PSI runners, executed with ``.venv-join-peers/bin/python`` (``make bench-join-peers``).

openmined-psi pins protobuf 6.30.2 and spu brings jax and numpy 1.x, so neither can share
the project's pinned environment; the ``join`` suite runs these scripts in a subprocess.
"""
