"""`tacotron monitor RUNS_DIR`: the web dashboards of a folder of runs on 127.0.0.1.

TensorBoard over the whole folder; one MLflow UI per MLflow store found in it (the default store
is RUN/mlflow.db, one per run; runs that share `monitor.mlflow_tracking_uri=sqlite:///...` share
one); optuna-dashboard for each Optuna study storage: a SQLite file, or a database server named
in a tuning folder's `study.json` (written by `tacotron tune --storage URL`, without the password:
the PostgreSQL driver takes it from PGPASSWORD or ~/.pgpass). Stores are recognised by their
tables, not their names. Each service runs in its own process group, so stopping it
(Ctrl-C) also ends the workers it forked.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tacotron.errors import UserError

HOST = "127.0.0.1"
STORE_SEARCH_DEPTH = 2  # RUNS_DIR/*.db and RUNS_DIR/*/*.db


@dataclass
class Service:
    name: str  # e.g. "mlflow (runs/a)"
    url: str
    process: subprocess.Popen
    log: Path
    reported: bool = False  # its early exit was told

    @property
    def pgid(self) -> int:
        return self.process.pid  # start_new_session=True: the leader's pid is the group id


def sqlite_tables(path: Path) -> set[str]:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as connection:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            return {row[0] for row in rows}
    except sqlite3.Error:
        return set()


def files_near(runs_dir: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` in RUNS_DIR and its subfolders (STORE_SEARCH_DEPTH levels)."""
    found = []
    for depth in range(STORE_SEARCH_DEPTH):
        found += sorted(runs_dir.glob("/".join(["*"] * depth + [pattern])))
    return found


def find_stores(runs_dir: Path) -> tuple[list[Path], list[Path]]:
    """(MLflow stores, Optuna storages) among the SQLite files in RUNS_DIR and its subfolders."""
    mlflow, optuna = [], []
    for path in files_near(runs_dir, "*.db"):
        tables = sqlite_tables(path)
        if {"experiments", "runs", "metrics"} <= tables:
            mlflow.append(path)
        elif {"studies", "trials"} <= tables:
            optuna.append(path)
    return mlflow, optuna


STUDY_POINTER = "study.json"  # {"study": NAME, "storage": URL}: a study kept on a database server


def find_remote_studies(runs_dir: Path) -> list[tuple[str, str]]:
    """(label, storage URL) of the study.json pointers in RUNS_DIR and its subfolders, one per URL."""
    found: dict[str, str] = {}
    for path in files_near(runs_dir, STUDY_POINTER):
        try:
            pointer = json.loads(path.read_text(encoding="utf-8"))
            found.setdefault(pointer["storage"], pointer["study"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return [(label, url) for url, label in found.items()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def find_script(name: str) -> str | None:
    """A console script installed beside this Python, else on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / name
    return str(beside) if beside.is_file() else shutil.which(name)


def module_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def start(name: str, command: list[str], port: int, log_dir: Path, cwd: Path,
          env: dict[str, str] | None = None) -> Service:
    log = log_dir / f"{name.split()[0]}-{port}.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True,
                                   env={**os.environ, **(env or {})})
    return Service(name, f"http://{HOST}:{port}/", process, log)


def start_services(runs_dir: Path, log_dir: Path, say: Callable[[str], None] = print
                   ) -> list[Service]:
    runs_dir = runs_dir.resolve()
    services = []
    port = free_port()
    services.append(start("tensorboard", [sys.executable, "-m", "tensorboard.main", "--logdir",
                                          str(runs_dir), "--host", HOST, "--port", str(port)],
                          port, log_dir, runs_dir))
    mlflow_stores, studies = find_stores(runs_dir)
    if mlflow_stores and not module_available("mlflow"):
        say("mlflow: stores found but MLflow is not installed (pip install 'tacotron[monitor]')")
        mlflow_stores = []
    for store in mlflow_stores:
        port = free_port()
        label = store.relative_to(runs_dir).parent.as_posix()
        label = runs_dir.name if label == "." else label
        services.append(start(
            f"mlflow ({label})",
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{store}",
             "--host", HOST, "--port", str(port), "--workers", "1"],
            port, log_dir, store.parent,
            # The UI alone: no background job runner (it would fork more workers).
            env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}))
    if not mlflow_stores:
        say("mlflow: no MLflow store under this folder (train with monitor.mlflow=true)")
    storages = [(study.name, f"sqlite:///{study}") for study in studies]
    storages += find_remote_studies(runs_dir)
    dashboard = find_script("optuna-dashboard") if storages else None
    if storages and dashboard is None:
        say("optuna-dashboard: studies found but it is not installed "
            "(pip install 'tacotron[monitor]')")
    for label, url in storages if dashboard else []:
        port = free_port()
        services.append(start(f"optuna-dashboard ({label})",
                              [dashboard, url, "--host", HOST, "--port", str(port)],
                              port, log_dir, runs_dir))
    return services


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until_ready(services: list[Service], timeout: float,
                     say: Callable[[str], None] = print) -> list[Service]:
    """Poll each URL until it answers 200; report services that exited or never answered."""
    waiting = list(services)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        for service in list(waiting):
            if service.process.poll() is not None:
                tail = service.log.read_text(errors="replace").strip().splitlines()[-5:]
                say(f"{service.name} exited (code {service.process.returncode}): "
                    + " | ".join(tail))
                waiting.remove(service)
            elif answers(service.url):
                say(f"ready: {service.name} {service.url}")
                waiting.remove(service)
        time.sleep(0.5)
    for service in waiting:
        say(f"{service.name} does not answer yet at {service.url} (log: {service.log})")
    return waiting


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop_services(services: list[Service], grace: float = 10.0) -> None:
    """SIGTERM each process group, then SIGKILL what is left after `grace` seconds."""
    for service in services:
        if group_alive(service.pgid):
            os.killpg(service.pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for service in services:
        try:
            service.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for service in services:
        while group_alive(service.pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if group_alive(service.pgid):
            os.killpg(service.pgid, signal.SIGKILL)
        if service.process.poll() is None:
            service.process.wait()


def run_monitor(runs_dir: str | Path, ready_timeout: float = 180.0,
                say: Callable[[str], None] = print) -> None:
    """Start the dashboards, print their URLs, and keep them up until Ctrl-C or SIGTERM."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise UserError(f"runs folder not found: {runs_dir}")
    log_dir = Path(tempfile.mkdtemp(prefix="tacotron-monitor-"))
    # SIGTERM stops like Ctrl-C; SIGINT too even where it was inherited ignored (a job started
    # with `&` from a script), where Python would not install its Ctrl-C handler.
    previous = {sig: signal.signal(sig, signal.default_int_handler)
                for sig in (signal.SIGTERM, signal.SIGINT)}
    services: list[Service] = []
    try:
        services = start_services(runs_dir, log_dir, say)
        for service in services:
            say(f"{service.name}: {service.url}  (pid {service.pgid})")
        say("starting; press Ctrl-C to stop them all")
        wait_until_ready(services, ready_timeout, say)
        while True:
            time.sleep(1.0)
            for service in services:
                if service.process.poll() is not None and not service.reported:
                    service.reported = True
                    say(f"{service.name} stopped (code {service.process.returncode}); "
                        f"log: {service.log}")
    except KeyboardInterrupt:
        say("stopping dashboards")
    finally:
        stop_services(services)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
