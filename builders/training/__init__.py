"""Training back end of ``archspec train / evaluate / predict`` (TensorFlow/Keras).

* :mod:`builders.training.data`: loaders (digits, image folders, .npz, Keras datasets) and the tf.data pipeline;
* :mod:`builders.training.augment`: vectorized augmentation of training batches;
* :mod:`builders.training.run`: devices and strategies, the fit loop, checkpoints and resume, transfer learning;
* :mod:`builders.training.report`: history curves and the confusion matrix.

The ``training:`` section itself is validated TF-free by :mod:`archspec.training`.
"""
