"""Where lvs-dr-watch's results go: Icinga 2's REST API (process-check-result, over TLS with
the CA verified) or the Nagios/Icinga external command file, each behind a Sender that
queues results (bounded; the oldest dropped first and counted) and retries with backoff in a
thread of its own, so that a monitoring system that is down never stalls the watch."""

import base64
import collections
import http.client
import json
import os
import socket
import ssl
import threading
import time
from typing import Any, Optional
from urllib.parse import urlsplit

from lvs_dr_checks.errors import PluginError, logger

log = logger("watch.sinks")
QUEUE_BOUND = 1000
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 5.0

Result = collections.namedtuple("Result", "code output perfdata at")
Result.__doc__ = ("A check result: exit code, the output without perfdata (status line and "
                  "long output), the perfdata items, and when it was decided (wall clock).")


def service_of(text: str) -> tuple[str, str]:
    """(host, service) of --icinga-service HOST!SERVICE."""
    host, bang, service = text.partition("!")
    if not bang or not host or not service or "!" in service:
        raise PluginError("--icinga-service {}: give HOST!SERVICE".format(text))
    return host, service


class _NamedTLS(http.client.HTTPSConnection):
    """HTTPS to an address whose certificate names another host (Icinga's certificates name
    the node, not its address)."""

    def __init__(self, host, port, context, name, timeout):
        super().__init__(host, port, timeout=timeout, context=context)
        self.name = name
        self.tls = context

    def connect(self):
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.name)


class IcingaApi:
    """POST /v1/actions/process-check-result for one service (HOST!SERVICE), with ``ttl``
    so that Icinga runs the service's own check (the fallback: UNKNOWN) when results stop."""

    def __init__(self, url: str, service: str, user: str, password: str, ca: str,
                 name: Optional[str], ttl: float, source: str):
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise PluginError("--icinga-url {}: give https://HOST:PORT of the Icinga 2 API"
                              .format(url))
        self.address, self.port = parts.hostname, parts.port or 5665
        self.host_name, self.service_name = service_of(service)
        self.name = name or parts.hostname
        try:
            self.context = ssl.create_default_context(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            raise PluginError("--icinga-ca {}: cannot load it: {}".format(ca, exc))
        self.authorization = "Basic " + base64.b64encode(
            "{}:{}".format(user, password).encode()).decode()
        self.ttl, self.source = ttl, source

    def deliver(self, result: Result) -> None:
        body = json.dumps({
            "type": "Service", "filter": "host.name == h && service.name == s",
            "filter_vars": {"h": self.host_name, "s": self.service_name},
            "exit_status": result.code, "plugin_output": result.output,
            "performance_data": result.perfdata, "check_source": self.source,
            "ttl": self.ttl, "execution_start": result.at, "execution_end": result.at})
        connection = _NamedTLS(self.address, self.port, self.context, self.name, timeout=5)
        try:
            connection.request("POST", "/v1/actions/process-check-result", body, {
                "Accept": "application/json", "Content-Type": "application/json",
                "Authorization": self.authorization})
            answer = connection.getresponse()
            text = answer.read(65536).decode("utf-8", "replace")
        finally:
            connection.close()
        if answer.status != 200 or '"code":200' not in text.replace(" ", ""):
            raise OSError("Icinga answered {} {}".format(answer.status, text[:200]))

    def __str__(self):
        return "Icinga API {}:{} ({}!{})".format(self.address, self.port, self.host_name,
                                                 self.service_name)


class CommandFile:
    """PROCESS_SERVICE_CHECK_RESULT lines into the external command file (a FIFO, opened
    without blocking: a monitoring core that does not read it is a failed delivery)."""

    def __init__(self, path: str, service: str):
        self.path = path
        self.host_name, self.service_name = service_of(service)

    def deliver(self, result: Result) -> None:
        text = result.output.replace("\n", "\\n").replace("|", "/")
        line = "[{}] PROCESS_SERVICE_CHECK_RESULT;{};{};{};{}|{}\n".format(
            int(result.at), self.host_name, self.service_name, result.code, text,
            " ".join(result.perfdata))
        descriptor = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND)
        try:
            os.write(descriptor, line.encode("utf-8"))
        finally:
            os.close(descriptor)

    def __str__(self):
        return "command file {}".format(self.path)


class Sender:
    """A sink's queue and its delivery thread: in order, each result retried with backoff
    (0.5 s doubling to 5 s) until delivered; past QUEUE_BOUND results the oldest go."""

    def __init__(self, sink: Any, delivered: int = 0, dropped: int = 0):
        self.sink = sink
        self.queue: collections.deque = collections.deque()
        self.delivered, self.dropped = delivered, dropped
        self.failing: Optional[str] = None
        self.condition = threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name=str(sink), daemon=True)
        self.thread.start()

    def submit(self, result: Result) -> None:
        with self.condition:
            self.queue.append(result)
            while len(self.queue) > QUEUE_BOUND:
                self.queue.popleft()
                self.dropped += 1
            self.condition.notify()

    def _run(self):
        backoff = BACKOFF_FIRST
        while True:
            with self.condition:
                while not self.queue and not self.stopping:
                    self.condition.wait()
                if not self.queue:
                    return
                result = self.queue[0]
            try:
                self.sink.deliver(result)
            except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
                if self.failing is None:
                    log.warning("%s: cannot deliver (%s); retrying, results queued", self.sink,
                                exc)
                self.failing = str(exc)
                with self.condition:
                    self.condition.wait(backoff)
                    if self.stopping:
                        return
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            if self.failing is not None:
                log.warning("%s: delivering again", self.sink)
            self.failing, backoff = None, BACKOFF_FIRST
            with self.condition:
                if self.queue and self.queue[0] is result:
                    self.queue.popleft()
                self.delivered += 1

    def stop(self, grace: float = 2.0) -> None:
        """Deliver what is queued within ``grace`` seconds, then stop."""
        deadline = time.monotonic() + grace
        while self.queue and self.failing is None and time.monotonic() < deadline:
            time.sleep(0.05)
        with self.condition:
            self.stopping = True
            self.condition.notify()
        self.thread.join(timeout=max(deadline - time.monotonic(), 0.1))

    def counters(self) -> dict[str, Any]:
        return {"sink": str(self.sink), "delivered": self.delivered, "dropped": self.dropped,
                "queued": len(self.queue), "failing": self.failing}
