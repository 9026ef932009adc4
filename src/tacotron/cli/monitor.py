"""`tacotron monitor`: the dashboards of a folder of runs (tacotron.monitoring.dashboards)."""

from __future__ import annotations

from tacotron.cli.arguments import Default, HelpText, only_given

DASHBOARDS = "tacotron.monitoring.dashboards"


def add_command(commands) -> None:
    monitor = commands.add_parser("monitor", help=HelpText(
        "TensorBoard, MLflow UI and optuna-dashboard for a folder of runs, on {}, until Ctrl-C",
        Default(DASHBOARDS, "HOST")))
    monitor.add_argument("runs", metavar="RUNS_DIR", help="runs folder, e.g. runs")
    monitor.add_argument("--ready-timeout", type=float, help=HelpText(
        "seconds to wait for every dashboard to answer (default {})",
        Default(DASHBOARDS, "run_monitor", "ready_timeout")))
    monitor.set_defaults(run=run)


def run(args) -> None:
    from tacotron.monitoring.dashboards import run_monitor

    run_monitor(args.runs, say=lambda line: print(line, flush=True),
                **only_given(ready_timeout=args.ready_timeout))
