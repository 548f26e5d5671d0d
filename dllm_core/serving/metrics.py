"""Prometheus metrics of one server (own registry, so several apps in one process do not clash)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
RATE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)


@dataclass
class ServerMetrics:
    """Request latency, tokens per second, batch occupancy and queue length."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("dllm_requests", "HTTP requests by path and status", ["path", "status"], registry=r)
        self.latency = Histogram("dllm_request_latency_seconds", "time from request to full answer",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("dllm_generated_tokens", "answer tokens returned (after stop cutting)", registry=r)
        self.tokens_per_second = Histogram("dllm_request_tokens_per_second", "answer tokens / request latency",
                                           buckets=RATE_BUCKETS, registry=r)
        self.batch_rows = Histogram("dllm_batch_rows", "rows per step of a running batch, or per whole batch",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=r)
        self.occupancy = Gauge("dllm_batch_occupancy", "rows of the running batch / --max-batch", registry=r)
        self.queue_rows = Gauge("dllm_queue_rows", "rows waiting for a batch", registry=r)
        self.queue_jobs = Gauge("dllm_queue_requests", "requests waiting for a batch", registry=r)

    def observe_answer(self, endpoint: str, seconds: float, tokens: int) -> None:
        self.latency.labels(endpoint).observe(seconds)
        self.tokens.inc(tokens)
        if seconds > 0:
            self.tokens_per_second.observe(tokens / seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)
