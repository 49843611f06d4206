"""Errors raised while reading a user's saved Keras model."""


class ConversionError(ValueError):
    """A saved or live Keras model cannot be read or converted.

    Raised for every problem a user's file or model can have (a missing
    weights group, a malformed config, an unsupported format detail). The
    message names the file, the layer (name and class where relevant) and what
    was expected. A missing path raises ``FileNotFoundError`` instead.
    """
