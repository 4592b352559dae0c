"""Benchmark suites; each module registers its suites with ``bench.harness.suite``."""
