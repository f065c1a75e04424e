"""pipeviz: watch a TensorFlow input pipeline feed a Keras CNN, live."""

__version__ = "0.1.0"
