import os
import subprocess
import sys
import time

import pytest

from encryptface.runtime import PhotoTimeoutError, check_deadline, deadline


def test_deadline_is_checked_where_the_loops_call_it_and_zero_means_none():
    now = [0.0]

    def clock() -> float:  # moved by hand: the test does not depend on the machine's speed
        return now[0]

    check_deadline()  # outside a photo: no deadline
    with pytest.raises(PhotoTimeoutError, match="0.05 s"), deadline(0.05, clock):
        check_deadline()
        now[0] = 0.1
        check_deadline()
    with deadline(0, clock):
        now[0] = 100.0
        check_deadline()
    check_deadline()  # the deadline ended with its block


def test_the_default_clock_is_the_monotonic_one():
    with pytest.raises(PhotoTimeoutError), deadline(1e-9):
        time.sleep(0.001)
        check_deadline()


def _threads_after(code: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout
    return out.split()


def test_limit_threads_caps_opencv_and_torch_whether_torch_is_imported_before_or_after():
    before = _threads_after("import torch, cv2\nfrom encryptface.runtime import limit_threads\n"
                            "limit_threads(1)\nprint(torch.get_num_threads(), cv2.getNumThreads())")
    after = _threads_after("from encryptface.runtime import limit_threads\nlimit_threads(1)\n"
                           "import torch, cv2\nprint(torch.get_num_threads(), cv2.getNumThreads())")
    assert before == after == ["1", "1"]


def test_limit_threads_zero_leaves_the_library_defaults():
    default = _threads_after("import torch\nprint(torch.get_num_threads())")
    zero = _threads_after("from encryptface.runtime import limit_threads\nlimit_threads(0)\n"
                          "import torch\nprint(torch.get_num_threads())")
    assert zero == default
