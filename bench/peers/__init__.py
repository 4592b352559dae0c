"""Peers that run outside our venv (in a subprocess with their own interpreter)."""
