"""Clips as people have them (tests/clips.py), read by qwen3_smvl.video.open_clip (clip_reader.py): every frame
upright and the right one, each frame's real time, the frames transformers' reader gives for a complete header
(straight through and by seeking), and every kind trains in a stage-1 run without being dropped."""
import json

import numpy as np
import pytest

from clips import FPS, KINDS, SECONDS, frame_number, is_upright, write_clip


@pytest.fixture(scope='module')
def processor(tiny_splice):
    from transformers import AutoProcessor
    return AutoProcessor.from_pretrained(tiny_splice)


@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    """Every kind written once: name -> (path, truth)."""
    folder = tmp_path_factory.mktemp('clips')
    written = {}
    for k, kind in enumerate(KINDS):
        path = folder / f'clip{k}.{KINDS[kind][0]}'
        written[kind] = path, write_clip(path, kind)
    return written


def open_clip(path, processor, num_frames=8):
    from qwen3_smvl import video
    return video.open_clip(path, processor.video_processor, fps=2, num_frames=num_frames)


@pytest.mark.parametrize('kind', list(KINDS))
def test_each_kind_reads_upright_with_the_right_frames(clips, processor, kind):
    path, truth = clips[kind]
    frames, metadata = open_clip(path, processor)
    width, height = truth['size']
    assert frames.dtype == np.uint8 and frames.shape == (8, height, width, 3)
    assert all(is_upright(frame) for frame in frames)  # the display matrix applied
    assert metadata.total_num_frames == FPS * SECONDS  # counted from the packets where the header has no count
    assert [frame_number(f) for f in frames] == [i % 20 for i in metadata.frames_indices]
    assert metadata.timestamps == pytest.approx([truth['times'][i] for i in metadata.frames_indices], abs=1e-3)


def test_a_variable_rate_is_sampled_by_time(clips, processor):
    """The slow first half gets as many frames as the fast second half, and the prompt says their real times."""
    from qwen3_smvl import video
    path, truth = clips['vp9 webm, variable rate']
    clip = open_clip(path, processor)
    times = np.asarray(clip[1].timestamps)
    assert (times < SECONDS / 2).sum() == 4 and np.diff(times).max() < 1.0, times
    index_picks = np.linspace(0, FPS * SECONDS - 1, 8, dtype=int)  # what picking by index would have given
    assert (np.asarray(truth['times'])[index_picks] < SECONDS / 2).sum() == 2
    _, text = video.process_clip(processor, clip, {'longest_edge': 64})
    said = [line.split('Frame from ')[1][:5] for line in text.split('\n') if line.startswith('Frame from')]
    assert said == [f'{int(t) // 60:02d}:{int(t) % 60:02d}' for t in times]


@pytest.mark.parametrize('seconds, seeks', [(SECONDS, False), (120, True)])
def test_a_complete_header_gives_transformers_frames(processor, tmp_path, monkeypatch, seconds, seeks):
    """An mp4 whose header is complete: the frames and indices transformers' PyAV reader gives for the checkpoint's
    sampling, exactly, whether the reader decodes straight through (a short clip) or seeks (a long one)."""
    from transformers.video_utils import load_video

    from qwen3_smvl import clip_reader
    path = tmp_path / 'clip.mp4'
    write_clip(path, 'h264 mp4', seconds=seconds, gop=30)
    calls = []
    monkeypatch.setattr(clip_reader, 'decode_by_seeking',
                        lambda *a, _seek=clip_reader.decode_by_seeking: calls.append(1) or _seek(*a))
    frames, metadata = open_clip(path, processor, num_frames=16)
    assert bool(calls) == seeks

    def sample(metadata, **kwargs):
        return processor.video_processor.sample_frames(metadata, num_frames=16, fps=2)
    expected, expected_metadata = load_video(str(path), backend='pyav', sample_indices_fn=sample)
    assert list(metadata.frames_indices) == list(expected_metadata.frames_indices)
    assert (metadata.total_num_frames, metadata.fps, metadata.duration) == (
        expected_metadata.total_num_frames, expected_metadata.fps, expected_metadata.duration)
    assert np.array_equal(frames, expected)


@pytest.mark.slow
def test_every_kind_trains_in_stage1(tiny_splice, clips, tmp_path):
    """One row per kind through recipes/stage1.sh, every row encoded up front: none is dropped, and the
    recipe's sample answers are asked about clips."""
    from test_recipes import run_recipe
    data = tmp_path / 'train.jsonl'
    with data.open('w') as f:
        for path, _ in clips.values():
            f.write(json.dumps({'messages': [{'role': 'user', 'content': '<video>圆形往哪个方向移动？'},
                                             {'role': 'assistant', 'content': '向右'}], 'videos': [str(path)]},
                               ensure_ascii=False) + '\n')
    bad_rows = tmp_path / 'bad_rows.jsonl'
    log = run_recipe('stage1.sh', MODEL=tiny_splice, DATASET=data, OUTPUT_DIR=tmp_path / 'run', MAX_STEPS=2,
                     SAVE_STEPS=2, LAZY_TOKENIZE='false', SMVL_BAD_ROWS=bad_rows, SMVL_VIDEO_FRAMES=4)
    assert not bad_rows.exists() or not bad_rows.read_text().strip(), bad_rows.read_text()
    assert f'num_rows: {len(KINDS)}' in log and 'of the sample' not in log
    assert (tmp_path / 'run' / 'last-checkpoint').is_dir()
    # the recipe's answers-while-training asked video rows too (it used to drop their clips and stop the run)
    samples = [json.loads(line) for line in (tmp_path / 'run' / 'samples.jsonl').read_text().splitlines()]
    assert samples and all(len(s['videos']) == 1 and isinstance(s['answer'], str) for s in samples)
