"""Keras builders for archspec: custom layers and gradient checking."""
