"""A resumable training loop: AdamW, warm-up and cosine schedule, clipping, validation.

The batch of every step is a function of ``(seed, step)`` alone: epoch ``e``
shuffles with a generator seeded by ``(seed, e)`` and each rank takes its own
slice, so a run resumed from a checkpoint sees exactly the batches it would
have seen, and ``torchrun`` replicas never see the same example in one step.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import attrs
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from console.atomic import atomic_write
from console.checkpoint_file import check_finite, fingerprint, read_checkpoint
from console.errors import CheckpointError, ConsoleError, DivergedError
from console.output_paths import check_output_folder
from console.training import distributed
from console.training.config import TrainConfig
from console.training.curve import write_loss_curve

STATE_FILE = "train_state.pt"
#: Steps timed before a run with a time budget first plans its length, and a safety margin.
TIMED_STEPS = 10
TIME_MARGIN = 1.05
#: Steps between plans, and the weight of the newest step in the moving average of step costs.
PLAN_EVERY = 5
SMOOTHING = 0.2
STATE_FORMAT = "console-train-state"
#: The temporary names :func:`console.atomic.atomic_path` gives: ``.{stem}.XXXXXXXX.tmp{suffix}``.
ATOMIC_TEMPORARY = re.compile(r"\.[^/]+\.[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?")


class TrainingTask(Protocol):
    """What the loop trains: a model and the loss of one batch."""

    model: nn.Module

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """Scalar loss of ``batch`` under ``model`` (the DDP wrapper during training)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Plain data identifying the task; a resumed run must describe itself the same."""
        ...

    def export(self, out_dir: Path, best: bool) -> None:
        """Write the usable artifact (e.g. ``console.pt``) from the current weights."""
        ...


#: What a run writes besides its state, by every task: a run folder holding one of these
#: but no state belongs to a run that cannot be resumed, and is not written over.
ARTIFACTS = ("best.pt", "console.pt", "mixer.pt", "emulator.pt")


def check_run_folder(out_dir: str | Path, artifacts: tuple[str, ...] = ARTIFACTS) -> Path:
    """Before any work: a new run folder, or one holding a run to resume.

    Refuses a path that is a file, lies under a file or cannot be written, and a
    folder with a finished run's weights but no :data:`STATE_FILE` (deleted, say):
    a new run there would start at step 0 and write over those weights.
    """
    out_dir = check_output_folder(out_dir, "run folder")
    if (out_dir / STATE_FILE).exists():
        return out_dir
    found = [name for name in artifacts if (out_dir / name).exists()]
    if found:
        raise ConsoleError(
            f"{out_dir} holds {' and '.join(found)} of a run that cannot be resumed (it has no "
            f"{STATE_FILE}), and a new run there would write over them; give a new --out, or "
            f"move those files away first."
        )
    return out_dir


@attrs.define
class History:
    train: list[tuple[int, float]] = attrs.field(factory=list)
    val: list[tuple[int, float]] = attrs.field(factory=list)
    best_val: float = math.inf


class Trainer:
    """Trains ``task.model`` on map-style datasets; checkpoints to ``out_dir`` atomically."""

    def __init__(
        self,
        task: TrainingTask,
        train_data: Dataset,
        collate: Callable[[list[Any]], Any],
        config: TrainConfig,
        out_dir: str | Path,
        val_data: Dataset | None = None,
        device: torch.device | str | None = None,
        progress: bool = True,
    ) -> None:
        if len(train_data) == 0:  # type: ignore[arg-type]
            raise ValueError("The training set is empty.")
        self.task = task
        self.train_data = train_data
        self.val_data = val_data
        self.collate = collate
        self.config = config
        self.out_dir = Path(out_dir)
        self.device = torch.device(device) if device else distributed.default_device()
        self.rank = distributed.rank()
        self.world = distributed.world_size()
        self.progress = progress and self.rank == 0
        torch.manual_seed(config.seed)
        self.model = task.model.to(self.device)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("Nothing to train: every parameter of the model is frozen.")
        self.optimizer = torch.optim.AdamW(
            trainable, lr=config.lr, weight_decay=config.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, config.lr_factor)
        self.wrapped: nn.Module = self.model
        if distributed.is_distributed():
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.wrapped = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.step = 0
        self.history = History()

    # -- data order ------------------------------------------------------------------

    @property
    def steps_per_epoch(self) -> int:
        per_step = self.config.batch_size * self.world
        return max(1, len(self.train_data) // per_step)  # type: ignore[arg-type]

    def _epoch_batches(self, epoch: int, skip: int) -> list[list[int]]:
        g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.train_data), generator=g).tolist()  # type: ignore[arg-type]
        b, w = self.config.batch_size, self.world
        batches = []
        for s in range(skip, self.steps_per_epoch):
            start = s * b * w + self.rank * b
            batches.append(order[start : start + b])
        return batches

    def _batches(self) -> Iterator[Any]:
        while True:
            epoch, skip = divmod(self.step, self.steps_per_epoch)
            if hasattr(self.train_data, "set_epoch"):
                self.train_data.set_epoch(epoch)
            loader = DataLoader(
                self.train_data,
                batch_sampler=self._epoch_batches(epoch, skip),
                collate_fn=self.collate,
                num_workers=self.config.num_workers,
            )
            yield from loader

    # -- checkpoints -----------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.out_dir / STATE_FILE

    def _frozen(self) -> dict[str, torch.Tensor]:
        """Parameters that never change during the run (e.g. emulators, a frozen encoder)."""
        return {k: p for k, p in self.model.named_parameters() if not p.requires_grad}

    def save(self) -> None:
        """Rank 0 writes the training state and the task's artifact.

        Frozen parameters are not stored (the run rebuilds them as it started),
        only a fingerprint that :meth:`resume` checks them against.
        """
        if self.rank == 0:
            frozen = self._frozen()
            state = {
                "format": STATE_FORMAT,
                "task": self.task.describe(),
                "config": attrs.asdict(self.config),
                "step": self.step,
                "model": {k: v for k, v in self.model.state_dict().items() if k not in frozen},
                "frozen": fingerprint(frozen),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "history": attrs.asdict(self.history),
                "rng": torch.get_rng_state(),
            }
            atomic_write(self.state_path, lambda tmp: torch.save(state, tmp))
            self.task.export(self.out_dir, best=False)
        distributed.barrier()

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete what an interrupted atomic write left in ``out_dir`` (rank 0); return it."""
        if self.rank != 0 or not self.out_dir.is_dir():
            return []
        stale = [
            path for path in self.out_dir.iterdir()
            if path.is_file() and ATOMIC_TEMPORARY.fullmatch(path.name)
        ]
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    def resume(self) -> bool:
        """Load ``out_dir``'s training state if there is one; ``True`` if resumed.

        Temporary files of a write that was interrupted are removed first.
        """
        self.remove_stale_temporaries()
        if not self.state_path.exists():
            return False
        state = read_checkpoint(self.state_path, "training state")
        if state.get("format") != STATE_FORMAT:
            raise CheckpointError(f"{self.state_path} is not a console training state.")
        if state["task"] != self.task.describe():
            raise CheckpointError(
                f"{self.state_path} belongs to another run ({state['task']}); use a new "
                f"output folder or the same settings."
            )
        frozen = self._frozen()
        if "frozen" in state and state["frozen"] != fingerprint(frozen):
            raise CheckpointError(
                f"{self.state_path}: the frozen weights (emulators, a frozen encoder) differ "
                f"from the ones this run started with; resume with the same --init and weights "
                f"files, or use a new output folder."
            )
        check_finite(state["model"], str(self.state_path))
        ours = set(self.model.state_dict())
        missing = sorted(ours - set(state["model"]) - set(frozen))
        unexpected = sorted(set(state["model"]) - ours)
        if missing or unexpected:
            raise CheckpointError(
                f"{self.state_path} does not fit this model (missing {missing[:3]}, unexpected "
                f"{unexpected[:3]}); it is damaged: use a new output folder."
            )
        self.model.load_state_dict(state["model"], strict=False)  # frozen weights stay as built
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        hist = state["history"]
        self.history = History(
            [tuple(x) for x in hist["train"]], [tuple(x) for x in hist["val"]], hist["best_val"]
        )
        torch.set_rng_state(state["rng"])
        return True

    # -- the loop --------------------------------------------------------------------

    def validate(self) -> float | None:
        """Mean validation loss over the validation set (or its first ``val_batches``)."""
        if self.val_data is None or len(self.val_data) == 0:  # type: ignore[arg-type]
            return None
        loader = DataLoader(
            self.val_data,
            batch_size=self.config.batch_size,
            shuffle=False,
            collate_fn=self.collate,
            num_workers=self.config.num_workers,
        )
        self.model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for i, batch in enumerate(loader):
                if self.config.val_batches is not None and i >= self.config.val_batches:
                    break
                total += float(self.task.loss(self.model, _to(batch, self.device)))
                count += 1
        self.model.train()
        return total / max(count, 1)

    def plan_steps(self, steps: int, validations: int | None = None) -> None:
        """Shorten the run to ``steps`` (the schedule then decays to zero there).

        With ``validations`` the validation interval is re-spaced to that many passes.
        """
        steps = max(steps, self.step + 1)
        val_every = self.config.val_every
        if validations:
            val_every = max(1, steps // validations)
        self.config = attrs.evolve(self.config, steps=steps, val_every=val_every)
        self.scheduler.lr_lambdas = [self.config.lr_factor]

    def fit(
        self,
        until: int | None = None,
        max_seconds: float | None = None,
        validations: int | None = None,
    ) -> History:
        """Train to ``config.steps`` (or stop early at ``until``); checkpoints along the way.

        With ``max_seconds`` the run also keeps to a time budget: after a few timed
        steps it plans how many fit (so the learning-rate schedule still ends at
        zero), and it stops when the budget is spent whatever the plan said.
        """
        last = self.config.steps if until is None else min(until, self.config.steps)
        self.model.train()
        bar = tqdm(
            total=self.config.steps, initial=self.step, disable=not self.progress, desc="train",
            dynamic_ncols=True,
        )
        batches = self._batches()
        started = time.monotonic()
        budget = _Budget(max_seconds, self.config.steps) if max_seconds else None
        while self.step < last:
            if budget is not None:
                now = time.monotonic()
                budget.iteration(now)
                elapsed = distributed.agreed_max(now - started)
                planned = budget.plan(self.step, elapsed, self.config.val_every)
                if planned is not None and abs(planned - self.config.steps) > max(
                    1, 0.02 * self.config.steps
                ):
                    self.plan_steps(planned, validations)
                    last = self.config.steps if until is None else min(until, planned)
                    bar.total = self.config.steps
                    bar.refresh()
                if elapsed > max_seconds:
                    if self.rank == 0:
                        print(f"train: time budget spent at step {self.step}", file=sys.stderr)
                    self._validate_and_keep_best()
                    self.save()
                    break
            cfg = self.config
            batch = _to(next(batches), self.device)
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.task.loss(self.wrapped, batch)
            if not torch.isfinite(loss):
                raise DivergedError(
                    f"The loss became {loss.item()} at step {self.step}; lower the learning "
                    f"rate or check the data. The last checkpoint is intact."
                )
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            value = loss.item()
            self.history.train.append((self.step, value))
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}")
            if self.step % cfg.val_every == 0 or self.step == cfg.steps:
                validation_started = time.monotonic()
                self._validate_and_keep_best()
                if budget is not None:
                    budget.validated(time.monotonic() - validation_started)
            if self.step % cfg.checkpoint_every == 0 or self.step == last:
                self.save()
                if self.rank == 0:
                    write_loss_curve(
                        self.out_dir / "loss.png", self.history.train, self.history.val,
                        title=str(self.task.describe().get("name", "")),
                    )
        bar.close()
        return self.history

    def _validate_and_keep_best(self) -> None:
        if self.rank == 0:
            val = self.validate()
            if val is not None:
                self.history.val.append((self.step, val))
                if val < self.history.best_val:
                    self.history.best_val = val
                    self.task.export(self.out_dir, best=True)
        distributed.barrier()


class _Budget:
    """How many steps fit in a time budget, re-estimated as the machine's load changes.

    A step's cost is a moving average of the recent steps (a shared machine can
    slow down or speed up mid-run), a validation pass costs what the last one did,
    and the plan never exceeds the steps asked for.
    """

    def __init__(self, seconds: float, cap: int) -> None:
        self.seconds, self.cap = seconds, cap
        self.step_cost: float | None = None
        self.validation_cost = 0.0
        self.validating = 0.0  # seconds of the current iteration spent validating
        self.last: float | None = None
        self.timed = 0

    def iteration(self, now: float) -> None:
        """Called at the top of every iteration: the previous one's cost, validation aside."""
        if self.last is not None:
            self.timed += 1
            seconds = now - self.last - self.validating
            if self.timed == 1:
                pass  # the first step pays for warm-up
            elif self.step_cost is None:
                self.step_cost = seconds
            else:
                self.step_cost += SMOOTHING * (seconds - self.step_cost)
        self.last, self.validating = now, 0.0

    def validated(self, seconds: float) -> None:
        self.validation_cost = self.validating = seconds

    def plan(self, step: int, elapsed: float, val_every: int) -> int | None:
        """The total steps that fit, at plan points only (else ``None``)."""
        if self.step_cost is None or self.timed < TIMED_STEPS + 1 or self.timed % PLAN_EVERY:
            return None
        per_step = distributed.agreed_max(
            self.step_cost + self.validation_cost / max(1, val_every)
        )
        fits = step + int((self.seconds - elapsed) / (per_step * TIME_MARGIN))
        return max(step + 1, min(self.cap, fits))


def _to(batch: Any, device: torch.device) -> Any:
    if hasattr(batch, "to"):
        return batch.to(device)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch
