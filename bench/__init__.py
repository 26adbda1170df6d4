"""Benchmarks against the local stack: latency, API calls per record, throughput, memory."""
