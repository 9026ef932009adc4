"""`tacotron.cli` under torchrun, plus what tests/test_distributed.py checks from outside:
each rank writes its final weights, controls and validation metrics to
$DDP_WORKER_OUT/rank{N}.pt, and with DDP_WORKER_HANG_AT_STEP=S every rank stops after step S and
writes its process id to $DDP_WORKER_OUT/hanging{N}, so the test can kill -9 the job at a known
point (torchrun starts each worker in its own session: killing torchrun's group misses them). Test code only: it wraps the
product's run loop from outside, the product has no hook for it."""

import dataclasses
import os
import sys
import time

import torch

from tacotron.cli import main
from tacotron.training.loop import RunLoop
from tacotron.training.trainer import TacotronTask

train_loop = RunLoop.train_loop
after_step = TacotronTask.after_step


def dump_after_training(self):
    result = train_loop(self)
    out = os.environ.get("DDP_WORKER_OUT")
    if out:
        torch.save({"model": self.task.model.state_dict(),
                    "optimizer": self.task.optimizer.state_dict(),
                    "controls": dataclasses.asdict(self.task.controls),
                    "val_metrics": self.last_val_metrics, "step": self.step,
                    "finished_reason": self.finished_reason,
                    "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch},
                   os.path.join(out, f"rank{self.rank}.pt"))
    return result


def hang_at_step(self, logs):
    after_step(self, logs)
    hang_at = int(os.environ.get("DDP_WORKER_HANG_AT_STEP", "0"))
    if hang_at and self.step >= hang_at:
        path = os.path.join(os.environ["DDP_WORKER_OUT"], f"hanging{self.loop.rank}")
        with open(path + ".tmp", "w") as handle:
            handle.write(str(os.getpid()))
        os.replace(path + ".tmp", path)
        while True:  # the test kills the job here
            time.sleep(1)


RunLoop.train_loop = dump_after_training
TacotronTask.after_step = hang_at_step

if __name__ == "__main__":
    sys.exit(main())
