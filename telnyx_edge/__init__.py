"""telnyx-edge: a local toolchain and Stateful Actor runtime for Telnyx Edge functions."""

__version__ = "0.1.0"
