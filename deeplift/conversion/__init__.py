"""Conversion of saved or live Keras models into DeepLIFT models.

The file readers (``keras2_h5``, ``keras3_h5``, ``keras_zip``, ``live_model``,
dispatched by ``readers.read_model_spec``) only parse: each returns a
:class:`deeplift.conversion.spec.ModelSpec`, the one normalised description
of a model's layers, graph and weights that the builder consumes.
"""
