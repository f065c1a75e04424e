"""pipeviz's engine: data, tf.data pipeline, model and training worker. No Qt in here.

Modules that import TensorFlow (pipeline, model, trainer, bench) are not imported here, so
`pipeviz.core.config` and `pipeviz.core.events` load instantly for a GUI.
"""
