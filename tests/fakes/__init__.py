"""Protocol-faithful fake provider servers for tests and benchmarks."""
