"""`tacotron train`: train a Tacotron 2, alone or under torchrun (tacotron.training)."""

from __future__ import annotations

import json
import sys

from tacotron.cli.arguments import add_config_arguments, config_from_args


def add_command(commands) -> None:
    train = commands.add_parser("train", help="train (resumes from the newest checkpoint)")
    train.add_argument("--data", required=True)
    train.add_argument("--out", required=True, help="run folder, e.g. runs/NAME")
    train.add_argument("--init-from", metavar="SOURCE",
                       help="start a new run from these weights: a run folder or checkpoint, or "
                            "NVIDIA's tacotron2_statedict.pt (train.init_from)")
    train.add_argument("--init-ignore", metavar="PATTERN", action="append",
                       help="a layer to leave freshly initialised, e.g. decoder.mel_projection "
                            "(a glob; repeat the flag for more; train.init_ignore)")
    add_config_arguments(train)
    train.set_defaults(run=run)


def run(args) -> None:
    import torch.distributed as dist

    from tacotron.config import set_value
    from tacotron.data.prepare import load_prepared, prepare
    from tacotron.evaluation.callback import run_callbacks
    from tacotron.training.loop import distributed_context
    from tacotron.training.trainer import Trainer
    from tacotron.training.warm_start import inherit_source_shape, init_from_setting

    config = config_from_args(args)
    if args.init_from:  # flags over the config file: train.init_from / train.init_ignore
        set_value(config, "train.init_from", init_from_setting(args.init_from))
    if args.init_ignore:
        set_value(config, "train.init_ignore", args.init_ignore)
    if config.train.init_from:
        inherited = inherit_source_shape(config, args.overrides)
        if inherited:
            print(f"--init-from: the model takes its source's {', '.join(inherited)} "
                  "(set model.*/audio.* on the command line to differ)", file=sys.stderr)
    rank, world_size, _ = distributed_context()
    callbacks = run_callbacks(config, args.data) if rank == 0 else []  # callbacks run on rank 0
    if rank == 0:  # under torchrun one process prepares, the others read its result
        prepared = prepare(args.data, config)
    if world_size > 1:
        dist.barrier()
    if rank != 0:
        prepared = load_prepared(args.data)
    trainer = Trainer(config, prepared, args.out, callbacks=callbacks)
    metrics = trainer.fit()
    print(json.dumps({"step": trainer.step, "stopped": trainer.finished_reason,
                      "val": metrics}, indent=2))
