"""`tacotron plan`: estimate steps, validation interval and batch size (tacotron.training.duration_plan)."""

from __future__ import annotations

from tacotron.cli.arguments import Default, HelpText, add_config_arguments, config_from_args, only_given


def add_command(commands) -> None:
    plan = commands.add_parser("plan", help="estimate steps, validation interval and batch size")
    plan.add_argument("data", help="data set folder (prepared on the way)")
    plan.add_argument("--probe-steps", type=int, help=HelpText(
        "training steps timed to measure the device (default {})",
        Default("tacotron.training.duration_plan", "plan_training", "probe_steps")))
    add_config_arguments(plan)
    plan.set_defaults(run=run)


def run(args) -> None:
    from tacotron.training.duration_plan import plan_training

    plan = plan_training(args.data, config_from_args(args), **only_given(probe_steps=args.probe_steps))
    print(plan.explain())
