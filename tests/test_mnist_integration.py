"""Real handwriting: train one epoch on the genuine MNIST test split beside the project."""
import os

import pytest

from conftest import SHARED_MNIST
from pipeviz.core.state import WorkerState


@pytest.mark.slow
def test_one_epoch_on_real_mnist_learns(tmp_path):
    if not SHARED_MNIST.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED_MNIST} is missing on CI")
        pytest.skip(f"{SHARED_MNIST} not present")
    from pipeviz.core.config import PipelineConfig, TrainerConfig
    from pipeviz.core.datasets import load_path
    from pipeviz.core.shards import prepare_shards
    from pipeviz.core.trainer import Trainer

    shards = prepare_shards(load_path(SHARED_MNIST), tmp_path)
    trainer = Trainer(shards, PipelineConfig(), TrainerConfig(epochs=1))
    trainer.start()
    assert trainer.join(300) and trainer.state == WorkerState.FINISHED
    summary = trainer.history[0]
    assert summary.val_accuracy > 0.9, summary  # chance is 0.1
    assert summary.train_loss < 1.0  # chance is ln 10 = 2.3; augmented batches keep it near 0.6
