"""tests/native.py: a native runtime's crash fails the one test that ran it, with the signal and what it printed."""
import ctypes
import os
import signal
import sys

import pytest

from native import in_child


def test_a_result_and_an_assertion_come_back_from_the_child():
    assert in_child(lambda: {'tokens': [1, 2, 3]}) == {'tokens': [1, 2, 3]}

    def wrong():
        assert 1 + 1 == 3, 'llama.cpp answered otherwise'
    with pytest.raises(AssertionError, match='llama.cpp answered otherwise'):
        in_child(wrong)


@pytest.mark.parametrize('how, name', [(lambda: os.kill(os.getpid(), signal.SIGILL), 'SIGILL'),
                                       (lambda: ctypes.string_at(0), 'SIGSEGV')])
def test_a_crash_fails_this_test_only_naming_the_signal_and_the_last_lines(how, name):
    def crash():
        print('llama_model_load: loaded the model')
        sys.stdout.flush()
        how()
    with pytest.raises(pytest.fail.Exception) as failure:
        in_child(crash, what='llama.cpp (q8_0)')
    message = str(failure.value)
    assert f'llama.cpp (q8_0) crashed with {name}' in message
    assert 'llama_model_load: loaded the model' in message  # the child's last lines
    assert in_child(lambda: os.getpid()) != os.getpid()  # this process lives on and can fork again


def test_a_hung_child_is_killed_at_its_timeout_and_forked_again_once(tmp_path):
    with pytest.raises(pytest.fail.Exception, match='ran past 1 s in a child process, 2 times'):
        in_child(lambda: signal.pause(), timeout=1)
    assert in_child(lambda: hang_the_first_time(tmp_path / 'forked'), timeout=1) == 'answered the second time'


def hang_the_first_time(flag):
    if flag.exists():
        return 'answered the second time'
    flag.touch()
    signal.pause()


def test_torch_runs_in_the_child_after_the_parent_used_its_thread_pool():
    """Processors resize with torch; an OpenMP pool used before the fork would hang the child's first parallel op."""
    import torch
    a = torch.randn(512, 512)
    expected = float((a @ a).sum())
    assert in_child(lambda: float((a @ a).sum()), timeout=120) == pytest.approx(expected, rel=1e-4)
