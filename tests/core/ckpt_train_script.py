"""A small training run that checkpoints as it goes, for test_checkpoint_resume.py.

An MLP with dropout on scikit-learn's digits, Adam, a cosine learning-rate schedule and a
shuffled DataLoader that prefetches in a thread. Every step appends ``step loss lr`` to
``OUT/log.txt`` (the floats as ``float.hex``, so equal lines mean bit-equal values); every
``--every`` steps the run saves ``OUT/ckpt.safetensors``. With ``--resume`` it first loads
that checkpoint (if there is one) and continues from it.

    python tests/core/ckpt_train_script.py OUT --steps 60 --every 7 [--resume] [--delay 0.05]

``--save-loop`` instead saves checkpoints of a model whose every weight equals the step
number, as fast as it can, forever (the test kills it mid-write).
"""

from __future__ import annotations

import argparse
import os
import sys
import time


import ember
from ember import nn
from ember.data import DataLoader, datasets
from ember.serialization import load_checkpoint, save_checkpoint


def build(steps: int):
    ember.manual_seed(1234)
    train = datasets.digits("train")
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 48), nn.ReLU(), nn.Dropout(0.3), nn.Linear(48, 10))
    optimizer = ember.optim.Adam(model.parameters(), lr=0.01)
    scheduler = ember.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=1e-4)
    # 1438 samples in batches of 100: 15 batches an epoch, the last one short.
    loader = DataLoader(train, batch_size=100, shuffle=True, num_workers=1)
    return model, optimizer, scheduler, loader


def train(out: str, steps: int, every: int, resume: bool, delay: float) -> None:
    model, optimizer, scheduler, loader = build(steps)
    ckpt = os.path.join(out, "ckpt.safetensors")
    step = 0
    if resume and os.path.exists(ckpt):
        step = load_checkpoint(ckpt, model=model, optimizer=optimizer, scheduler=scheduler,
                               dataloader=loader)["step"]
    model.train()
    with open(os.path.join(out, "log.txt"), "a") as log:
        while step < steps:
            for x, y in loader:
                loss = nn.functional.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                lr = optimizer.param_groups[0]["lr"]
                scheduler.step()
                step += 1
                log.write(f"{step} {float(loss.item()).hex()} {float(lr).hex()}\n")
                log.flush()
                if step % every == 0:
                    save_checkpoint(ckpt, model=model, optimizer=optimizer, scheduler=scheduler, step=step,
                                    dataloader=loader)
                if step == steps:
                    break
                if delay:
                    time.sleep(delay)


def save_loop(out: str) -> None:
    model = nn.Linear(512, 512)
    ckpt = os.path.join(out, "ckpt.safetensors")
    step = 0
    while True:
        step += 1
        with ember.no_grad():
            for p in model.parameters():
                p.fill_(float(step))
        save_checkpoint(ckpt, model=model, step=step, extra={"step_again": step})
        with open(os.path.join(out, "saved.txt"), "a") as f:
            f.write(f"{step}\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--every", type=int, default=7)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--save-loop", action="store_true")
    args = parser.parse_args(argv)
    if args.save_loop:
        save_loop(args.out)
    else:
        train(args.out, args.steps, args.every, args.resume, args.delay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
