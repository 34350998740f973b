"""Status codes: one C enum with its text (mt_status_str); bad samples and
labels in the loader are MT_ERR_BAD_DATA, raised with the C message."""
import sys
from pathlib import Path

import numpy as np
import pytest

from core_cy import Executor, ExecutorError
from core_cy._core import STATUS_TEXT

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
import bundle_samples as samples  # noqa: E402

MT_ERR_BAD_DATA = 6


def _tiny_executor():
    content = samples.tiny_content(with_swap=False)
    table = np.stack([content.tensors["offset"], content.tensors["nbytes"]], axis=1)
    return Executor(content.ops, table, content.arena_bytes, content.input, content.labels,
                    content.metrics, content.output)


def _data():
    data = samples.dataset()
    return data.x, data.y.view(np.uint8).reshape(len(data.y), 4)


def test_every_status_has_its_own_text():
    assert len(set(STATUS_TEXT.values())) == len(STATUS_TEXT) >= 7


def test_sample_index_outside_the_data_set_is_bad_data():
    x, y = _data()
    with pytest.raises(ExecutorError) as info:
        _tiny_executor().load_batch(x, y, np.array([0, len(x)], np.int32), 0)
    assert info.value.status == MT_ERR_BAD_DATA
    assert str(info.value) == "load batch: " + STATUS_TEXT[MT_ERR_BAD_DATA]


def test_label_outside_the_classes_is_bad_data():
    x, y = _data()
    labels = np.array([0, 2, 1, 0, 1], np.int32)  # 2 classes: label 2 is out of range
    y = labels.view(np.uint8).reshape(-1, 4)
    ex = _tiny_executor()
    ex.load_batch(x, y, np.array([0, 2], np.int32), 0)
    with pytest.raises(ExecutorError) as info:
        ex.train(x, y, np.array([0, 1], np.int32), 0, 1)
    assert info.value.status == MT_ERR_BAD_DATA
