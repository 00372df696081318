"""Benchmarks that print figures. Tests only check that they run; they never assert timings."""
