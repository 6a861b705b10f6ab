"""The sweep's pool: jobs run each in a process of its own, ``parallel`` at once, each killed
at its own deadline, all within -t. It knows no check: ``work(job)`` runs in the child and
returns what JSON can carry; the parent ``decode``s it, or asks ``failed(job, reason)`` for
the job that gave no answer (killed, timed out, crashed, answered too much)."""

import collections
import importlib
import json
import logging
import os
import select
import signal
import time

from lvs_dr_checks.errors import PluginError


class Plan(collections.namedtuple("Plan", "servers parallel budget")):
    """The sweep's time: ``parallel`` slots, each server ``budget`` seconds from its start,
    in as many waves as it takes, all within -t."""

    # Share of -t the sweep may plan with: the rest is start-up and output.
    SHARE = 0.85
    MIN_BUDGET = 1.0

    @classmethod
    def make(cls, servers, parallel, timeout):
        parallel = min(parallel, servers)
        waves = -(-servers // parallel)
        budget = timeout * cls.SHARE / waves
        if budget < cls.MIN_BUDGET:
            raise PluginError(
                "{} real servers, {} at a time, leave {:.2f}s each within -t {:g}: raise -t or "
                "--parallel".format(servers, parallel, budget, timeout))
        return cls(servers, parallel, budget)

    def __str__(self):
        return "{} servers, {} at a time, {:.1f}s each".format(self.servers, self.parallel,
                                                               self.budget)


# What a job's process may hand back (its answer and its log records).
MAX_ANSWER_BYTES = 8 * 1024 * 1024


class Work(collections.namedtuple("Work", "run decode failed")):
    """What the pool does with a job: ``run(job)`` in the child (an answer JSON can carry),
    ``decode(job, answer)`` in the parent (ValueError, KeyError or TypeError: no answer), and
    ``failed(job, reason)`` for a job that gave none."""


class _Worker:
    """One job in a process of its own: a process, unlike a thread, is stopped for good when
    its time is up, and no job waits for another's share of the interpreter. The answer and
    the log records come back as JSON through a pipe."""

    def __init__(self, index, job, budget, work):
        self.index, self.job, self.work = index, job, work
        self.deadline = time.monotonic() + budget
        self.chunks, self.size = [], 0
        read_end, write_end = os.pipe()
        try:
            self.pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        if self.pid == 0:  # the child: never returns
            os.close(read_end)
            _serve(work.run, job, budget, write_end)
        os.close(write_end)
        self.fd = read_end

    def read(self):
        """False once the child has closed its end (done, or dead)."""
        chunk = os.read(self.fd, 65536)
        self.chunks.append(chunk)
        self.size += len(chunk)
        return bool(chunk) and self.size <= MAX_ANSWER_BYTES

    def stop(self):
        """The child killed (if it still runs) and reaped; its wait status."""
        os.close(self.fd)
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return os.waitpid(self.pid, 0)[1]

    def report(self, status):
        """(the job's decoded answer or failure, its log records)."""
        if self.size > MAX_ANSWER_BYTES:
            return self.work.failed(self.job, "check failed: its answer exceeds {} MiB".format(
                MAX_ANSWER_BYTES >> 20)), []
        try:
            sent = json.loads(b"".join(self.chunks).decode("utf-8"))
            return self.work.decode(self.job, sent["answer"]), sent["log"]
        except (ValueError, KeyError, TypeError):
            return self.work.failed(self.job, "check failed: its process ended without a "
                                              "result ({})".format(_ended(status))), []


def _ended(status):
    if os.WIFSIGNALED(status):
        return "killed by signal {}".format(os.WTERMSIG(status))
    return "exit {}".format(os.WEXITSTATUS(status))


def _serve(run, job, budget, write_end):
    """The child's whole life: run the job, write the answer, exit. Its own timer ends it
    should the parent be gone; its log records go back with the answer."""
    status = 1
    try:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_REAL, budget + 1)
        records = []
        root = logging.getLogger("nagiosplugin")  # what its handlers would show, sent back
        root.handlers = [_Capture(records, min((h.level for h in root.handlers),
                                               default=logging.WARNING))]
        answer = json.dumps({"answer": run(job), "log": records}).encode("utf-8")
        while answer:
            answer = answer[os.write(write_end, answer):]
        status = 0
    finally:
        os._exit(status)


class _Capture(logging.Handler):
    def __init__(self, records, level):
        super().__init__(level)
        self.records = records

    def emit(self, record):
        self.records.append((record.levelno, record.name, self.format(record)))


# Imported before the first fork, once, instead of by each server's process: SSH (paramiko
# and its cryptography, the codec of host names) and the netplan model's YAML parser.
PRELOADED = ("paramiko", "lvs_dr_checks.source.ssh.connect", "lvs_dr_checks.source.ssh.sftp",
             "encodings.idna", "yaml")


def _preload():
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except ImportError:  # named by the server's own check, where it is needed
            pass


def run(jobs, plan, work):
    """``work`` done for every job, each in a process of its own, ``plan.parallel`` at once,
    each killed at its own deadline: a job whose time is up is ``work.failed``, the others go
    on. The log records of each job are logged here, each distinct line once."""
    reports = [None] * len(jobs)
    waiting = collections.deque(range(len(jobs)))
    running = {}  # fd -> _Worker
    logged = set()
    _preload()

    def finish(worker, report, records=()):
        reports[worker.index] = report
        for level, name, message in records:
            if (level, message) not in logged:
                logged.add((level, message))
                logging.getLogger(name).log(level, "%s", message)

    try:
        while waiting or running:
            while waiting and len(running) < plan.parallel:
                index = waiting.popleft()
                try:
                    worker = _Worker(index, jobs[index], plan.budget, work)
                except OSError as exc:
                    reports[index] = work.failed(jobs[index], "cannot start its check: {}"
                                                 .format(exc.strerror or exc))
                    continue
                running[worker.fd] = worker
            if not running:
                continue
            timeout = min(w.deadline for w in running.values()) - time.monotonic()
            ready, _, _ = select.select(list(running), [], [], max(timeout, 0))
            for fd in ready:
                worker = running[fd]
                if not worker.read():
                    del running[fd]
                    finish(worker, *worker.report(worker.stop()))
            now = time.monotonic()
            for fd, worker in list(running.items()):
                if now >= worker.deadline:
                    del running[fd]
                    worker.stop()
                    finish(worker, work.failed(worker.job, "no result within {:.1f}s, its "
                                                           "share of -t ({})".format(plan.budget,
                                                                                     plan)))
    finally:
        for worker in running.values():
            worker.stop()
    return reports


