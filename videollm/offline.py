"""Keep the Hugging Face libraries from reaching the network.

The course runs offline: tiny models are built in code and real checkpoints are loaded only when a user
passes one explicitly. Call :func:`set_offline` before importing ``transformers`` or ``timm`` to make any
accidental hub download fail fast instead of hanging.
"""

import os

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def set_offline() -> None:
    """Set the environment variables that switch the hub libraries offline (idempotent)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
