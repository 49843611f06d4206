"""MNIST example: the DeepLIFT paper's comparison of attribution methods on digits."""
