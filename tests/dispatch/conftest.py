from __future__ import annotations

import pytest

from minsheng.dispatch import services


@pytest.fixture(autouse=True)
def model_dir(settings, tmp_path):
    """Each test has its own, empty model directory and no cached model."""
    settings.MINSHENG_DISPATCH_MODEL_DIR = tmp_path / "models"
    settings.MINSHENG_AUTO_DISPATCH_CONFIDENCE = None
    services.forget_model()
    yield settings.MINSHENG_DISPATCH_MODEL_DIR
    services.forget_model()
