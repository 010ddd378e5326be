"""What a resolved archspec graph becomes, outside the TensorFlow-free language package.

* :mod:`builders.keras`: each kind's Keras builder and importer, one module per family;
* :mod:`builders.keras_model`: the Keras functional model (and saving it);
* :mod:`builders.layers`: the custom layers (Local Response Normalization, the explicit-backward Conv2D);
* :mod:`builders.gradcheck`: numerical gradient checks of those layers in float64;
* :mod:`builders.drawing`: Graphviz DOT text and rendered pictures, the interactive HTML page;
* :mod:`builders.training`: training, evaluation and prediction runs (run folder, devices, checkpoints);
* :mod:`builders.search`: Keras Tuner search over a spec's annotated choices;
* :mod:`builders.compat`: the version checks that guard every use of a library's private API.
"""
