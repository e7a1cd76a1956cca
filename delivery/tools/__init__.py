"""Tools around the service: demo, benchmarks, and the localhost helpers they share."""
