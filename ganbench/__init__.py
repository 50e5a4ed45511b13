"""ganbench: one-pass GAN evaluation for CIFAR-10."""

__version__ = "0.1.0"
