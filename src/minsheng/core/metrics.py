"""Prometheus metrics at ``/metrics``: request counts and latencies, and business gauges.

Requests are counted by the resolved view name (``console:appeal_detail``, ``api:submit``),
never the raw path, so a scanner trying a million URLs adds one series (``<unresolved>``), not
a million. Methods outside the usual few are counted as ``other`` for the same reason.

The business gauges (open appeals, overdue now, tasks waiting, notifications waiting or failed)
are computed at scrape time from indexed queries, so they are always the database's truth, the
same from whichever app server answers.

Under ``minsheng serve`` (gunicorn, several processes) each worker writes its counters to files
in ``PROMETHEUS_MULTIPROC_DIR``, which the command sets to a fresh directory before the workers
start, and a scrape of any worker adds them all up (prometheus_client's multiprocess mode; the
``child_exit`` hook marks a dead worker's files). Elsewhere (runserver, tests) the counters live
in the process.

Access: from ``MINSHENG_METRICS_ALLOWED_IPS`` (addresses or networks), or with
``Authorization: Bearer <MINSHENG_METRICS_TOKEN>``; anyone else gets the ordinary 404 page, as
if there were nothing here.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

# prometheus_client is imported only inside functions: it picks its multiprocess mode from
# PROMETHEUS_MULTIPROC_DIR when first imported, and the gunicorn master (which imports this
# module during the system checks) must not import it before ``on_starting`` has set that.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNRESOLVED = "<unresolved>"
logger = logging.getLogger(__name__)
_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


@dataclass(frozen=True)
class _Instruments:
    requests: Any
    latency: Any


@lru_cache(maxsize=1)
def instruments() -> _Instruments:
    """The request counter and histogram, made on first use (in the worker, after the fork)."""
    from prometheus_client import Counter, Histogram

    return _Instruments(
        requests=Counter(
            "minsheng_http_requests",
            "HTTP requests answered, by view name, method and status class.",
            ["view", "method", "status"],
        ),
        latency=Histogram(
            "minsheng_http_request_duration_seconds",
            "Time from the request reaching Django to the response leaving it, by view name.",
            ["view"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
        ),
    )


# ---------------------------------------------------------------- request metrics


class MetricsMiddleware:
    """Counts and times every request; first in MIDDLEWARE, so it sees what the others do."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        view = view_label(request)
        method = request.method if request.method in _METHODS else "other"
        meters = instruments()
        meters.requests.labels(view, method, f"{response.status_code // 100}xx").inc()
        meters.latency.labels(view).observe(elapsed)
        return response


def view_label(request: HttpRequest) -> str:
    """The resolved view's name (a fixed set), or ``<unresolved>`` when no URL matched."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNRESOLVED
    return str(match.view_name)


# ---------------------------------------------------------------- business gauges


class BusinessCollector:
    """Gauges read from the database at scrape time (cheap, indexed counts)."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        # A scrape while the database is down still answers (with the request metrics), and
        # says so: an alert on minsheng_database_up == 0 beats a failed scrape.
        try:
            families = list(self._from_database())
        except DatabaseError:
            logger.warning("metrics: the database did not answer", exc_info=True)
            families = []
        yield GaugeMetricFamily(
            "minsheng_database_up",
            "1 when the business gauges could be read from the database at this scrape.",
            value=1 if families else 0,
        )
        yield from families

    def _from_database(self) -> Iterator[Any]:
        from django_tasks.base import TaskResultStatus
        from django_tasks_db.models import DBTaskResult
        from prometheus_client.core import GaugeMetricFamily

        from minsheng.appeals.choices import OPEN_STATUSES
        from minsheng.appeals.models import Appeal
        from minsheng.appeals.selectors import attention_filters
        from minsheng.notify.choices import DeliveryStatus
        from minsheng.notify.models import Delivery

        now = timezone.now()

        open_appeals = GaugeMetricFamily(
            "minsheng_appeals_open", "Appeals not yet closed, by status.", labels=["status"]
        )
        by_status = dict(
            Appeal.objects.filter(status__in=sorted(OPEN_STATUSES))
            .values_list("status")
            .annotate(n=Count("id"))
            .order_by()
        )
        for status in sorted(OPEN_STATUSES):
            open_appeals.add_metric([status], by_status.get(status, 0))
        yield open_appeals

        yield GaugeMetricFamily(
            "minsheng_appeals_overdue",
            "Running appeals past their completion deadline now.",
            value=Appeal.objects.filter(attention_filters(now)["overdue"]).count(),
        )

        waiting = GaugeMetricFamily(
            "minsheng_tasks_waiting",
            "Background tasks waiting in the database queue (ready to run or scheduled).",
            labels=["queue"],
        )
        oldest = GaugeMetricFamily(
            "minsheng_tasks_oldest_ready_seconds",
            "Age of the oldest task that is due and not yet taken by a worker (0: none).",
            labels=["queue"],
        )
        ready = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
        counts = dict(ready.values_list("queue_name").annotate(n=Count("id")).order_by())
        due = dict(
            ready.filter(run_after__lte=now)
            .values_list("queue_name")
            .annotate(first=Min("enqueued_at"))
            .order_by()
        )
        for queue in sorted(set(settings.TASKS["default"].get("QUEUES", [])) | set(counts)):
            waiting.add_metric([queue], counts.get(queue, 0))
            first = due.get(queue)
            oldest.add_metric([queue], (now - first).total_seconds() if first else 0.0)
        yield waiting
        yield oldest

        deliveries = GaugeMetricFamily(
            "minsheng_notification_deliveries",
            "Text-message and e-mail deliveries not (yet) sent, by state.",
            labels=["status"],
        )
        unsent = [
            DeliveryStatus.PENDING,
            DeliveryStatus.SENDING,
            DeliveryStatus.FAILED,
            DeliveryStatus.UNKNOWN,
        ]
        by_state = dict(
            Delivery.objects.filter(status__in=unsent)
            .values_list("status")
            .annotate(n=Count("id"))
            .order_by()
        )
        for state in unsent:
            deliveries.add_metric([str(state)], by_state.get(state, 0))
        yield deliveries


# ---------------------------------------------------------------- the endpoint


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not may_scrape(request):
        raise Http404
    from prometheus_client import REGISTRY, CollectorRegistry, values
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    directory = os.environ.get(MULTIPROCESS_ENV)
    # Multiprocess only when the values really went to files: the mode is fixed at import.
    if directory and values.ValueClass is not values.MutexValue:
        MultiProcessCollector(registry, path=directory)
    else:
        instruments()  # so a fresh process shows the families before its first request
        registry.register(REGISTRY)  # type: ignore[arg-type]  # it has collect(), that is all
    registry.register(BusinessCollector())  # type: ignore[arg-type]
    # The text format Prometheus asks for (Accept), the classic 0.0.4 text when it says nothing.
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = HttpResponse(encoder(registry), content_type=content_type)
    response["Vary"] = "Accept"
    return response


def may_scrape(request: HttpRequest) -> bool:
    token: str = settings.MINSHENG_METRICS_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), token.encode()
        ):
            return True
    # A request that came through a proxy has the proxy's address (often 127.0.0.1) as its
    # peer: the address says nothing about the client, so only the token can admit it.
    if any(header in request.META for header in _PROXY_HEADERS):
        return False
    return _address_allowed(request.META.get("REMOTE_ADDR", ""))


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(
        ip in network for network in _allowed_networks(tuple(settings.MINSHENG_METRICS_ALLOWED_IPS))
    )


@lru_cache(maxsize=8)
def _allowed_networks(
    entries: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


# ---------------------------------------------------------------- multiprocess (gunicorn)


def gunicorn_hooks(directory: Path) -> dict[str, Callable[..., None]]:
    """gunicorn server hooks for prometheus_client's multiprocess mode under ``directory``."""

    def on_starting(server: Any) -> None:
        # In the master, before any worker exists: an empty directory (files of an earlier run
        # would be added to this run's counters), named where the workers will look for it.
        if "prometheus_client.values" in sys.modules and not os.environ.get(MULTIPROCESS_ENV):
            logger.warning("prometheus_client already imported: metrics are per worker")
            return
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True, mode=0o700)
        os.environ[MULTIPROCESS_ENV] = str(directory)

    def child_exit(server: Any, worker: Any) -> None:
        # A dead worker's live gauges stop counting; its counters are kept (they happened).
        if os.environ.get(MULTIPROCESS_ENV):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(worker.pid)

    return {"on_starting": on_starting, "child_exit": child_exit}
