"""Training back end of ``archspec train / evaluate / predict`` (TensorFlow/Keras), one job per module.

Read in the order a run goes:

* :mod:`builders.training.train`: ``train()``, the orchestration of a run, step by step;
* :mod:`builders.training.run_folder`: the run (and search) folder: made, locked, resumed, finished (TF-free);
* :mod:`builders.training.data`: loaders (digits, image folders, .npz, Keras datasets) and the tf.data pipeline;
* :mod:`builders.training.augment`: vectorized augmentation of training batches;
* :mod:`builders.training.devices`: devices and ``tf.distribute`` strategies (one GPU, several, several machines);
* :mod:`builders.training.recipe`: dropout, ``init_from``, freeze, L1/L2, optimizer, schedule, loss;
* :mod:`builders.training.schedules`: the warm-up learning-rate schedule;
* :mod:`builders.training.callbacks`: NaN guard, epoch timer, TensorBoard scalars;
* :mod:`builders.training.checkpoints`: crash-safe checkpoints and resume, on ``save_weights``/``load_weights``;
* :mod:`builders.training.inference`: ``evaluate()`` and ``predict()`` of a finished run;
* :mod:`builders.training.report`: history curves and the confusion matrix;
* :mod:`builders.training.native_stderr`: silencing TensorFlow's C++ start-up chatter.

The ``training:`` section itself is validated TF-free by :mod:`archspec.language.training`; private Keras and CPython
APIs are used only through :mod:`builders.compat`.
"""
