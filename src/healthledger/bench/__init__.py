"""The benchmarks: one harness, one module per benchmark (figures in docs/benchmarks.md)."""
