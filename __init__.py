"""pipeviz: watch a TensorFlow input pipeline feed a Keras CNN, live; and your own training
with `pipeviz run train.py` or `pipeviz.watch(model, dataset)`."""

__version__ = "0.1.0"


def watch(model=None, dataset=None):
    """Watch this process's `model.fit` and, for a custom loop, iterate the returned dataset:

        import pipeviz
        for batch in pipeviz.watch(model, dataset):
            train_step(batch)

    See pipeviz.core.watch.api. TensorFlow is imported only when this is called."""
    from pipeviz.core.watch.api import watch as _watch

    return _watch(model, dataset)
