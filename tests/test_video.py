"""Bad clips: each refused with one line naming its row and cause, counted like bad image rows; the synthetic set."""
import json
import random

import pytest
from swift.utils import import_external_file

from conftest import REPO, train_template
from qwen3_smvl.datasets.synthetic_video import FPS, moving_circle, write_mp4

template_module = import_external_file(str(REPO / 'plugin' / 'template.py'))


@pytest.fixture(scope='module')
def template(tiny_splice):
    return train_template(tiny_splice)


@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    pictures, _, _ = moving_circle(64, random.Random(1))
    return write_mp4(tmp_path_factory.mktemp('clips') / 'ok.mp4', [p for p in pictures for _ in range(FPS)])


def no_frames(path):
    """An mp4 container whose video stream never got a frame (FFmpeg then writes no stream at all)."""
    import av
    with av.open(str(path), 'w') as container:
        stream = container.add_stream('libx264', rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 64, 'yuv420p'
        container.start_encoding()  # writes the header, which the first frame would otherwise do
        container.mux(stream.encode())
    return path


def bad_sources(clip, tmp_path):
    data = clip.read_bytes()
    (tmp_path / 'cut.mp4').write_bytes(data[:len(data) * 2 // 3])
    (tmp_path / 'junk.mp4').write_bytes(b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 8)
    (tmp_path / 'notes.mp4').write_text('这不是视频')
    return {
        'truncated': (tmp_path / 'cut.mp4', 'truncated video', 'truncated video: only'),  # fewer frames than declared
        'corrupt': (tmp_path / 'junk.mp4', 'unreadable video', 'not a readable video'),
        'not a video': (tmp_path / 'notes.mp4', 'unreadable video', 'not a readable video'),
        'zero frames': (no_frames(tmp_path / 'empty.mp4'), 'video has no frames', 'the video has no frames'),
        'missing': (tmp_path / 'gone.mp4', 'missing video file', 'video file not found'),
        'over-long': (clip, 'video too long', 'over the 3-second limit'),
        'huge resolution': (clip, 'video too large', '64x64, over the 1000-pixel limit'),
    }


@pytest.mark.parametrize('case', ['truncated', 'corrupt', 'not a video', 'zero frames', 'missing', 'over-long',
                                  'huge resolution'])
def test_bad_clip_names_its_row_and_is_counted(template, clip, tmp_path, monkeypatch, caplog, case):
    from qwen3_smvl import video
    from qwen3_smvl.train import bad_rows
    monkeypatch.setattr(video, 'MAX_VIDEO_SECONDS', 3 if case == 'over-long' else video.MAX_VIDEO_SECONDS)
    monkeypatch.setattr(video, 'MAX_VIDEO_PIXELS', 1000 if case == 'huge resolution' else video.MAX_VIDEO_PIXELS)
    bad_file = tmp_path / 'bad_rows.jsonl'
    monkeypatch.setenv('SMVL_BAD_ROWS', str(bad_file))
    path, cause, message = bad_sources(clip, tmp_path)[case]
    row = {'id': f'clip-{case}', 'messages': [{'role': 'user', 'content': '<video>圆形往哪个方向移动？'},
                                               {'role': 'assistant', 'content': '向左'}], 'videos': [str(path)]}
    with caplog.at_level('WARNING', logger='qwen3_smvl'), pytest.raises(video.VideoError) as err:
        template.encode(row)
    line = str(err.value)
    print(case, '->', line)
    assert '\n' not in line and f"id='clip-{case}'" in line and message in line and str(path) in line
    assert err.value.cause == cause
    assert [json.loads(r)['cause'] for r in bad_file.read_text().splitlines()] == [cause]
    assert bad_rows.summary(bad_file).startswith(f'1 bad rows dropped: {cause} 1')


def test_a_list_of_no_frames_is_refused(template):
    from qwen3_smvl import video
    with pytest.raises(video.VideoError, match="id='frames-0'.*<0 frames>: the video has no frames"):
        template.encode({'id': 'frames-0', 'messages': [{'role': 'user', 'content': '<video>?'},
                                                        {'role': 'assistant', 'content': '!'}], 'videos': [[]]})


def test_the_good_clip_still_trains(template, clip):
    row = {'messages': [{'role': 'user', 'content': '<video>?'}, {'role': 'assistant', 'content': '向左'}],
           'videos': [str(clip)]}
    encoded = template.encode(row)
    assert encoded['pixel_values'].shape[0] == 4 and any(label != -100 for label in encoded['labels'])


def test_video_tags_must_match_videos(template, clip):
    with pytest.raises(template_module.BadSampleError, match='2 <video> tags for 1 videos'):
        template.encode({'messages': [{'role': 'user', 'content': '<video><video>?'},
                                      {'role': 'assistant', 'content': '!'}], 'videos': [str(clip)]})


def test_synthetic_video_set(tmp_path):
    """Held-out clips differ from training clips; the first frame does not give the answer away."""
    from transformers.video_utils import load_video
    from qwen3_smvl.datasets.synthetic_video import first_frame_clip, make_video_dataset
    files = make_video_dataset(tmp_path, train=9, test=6, size=32)
    train, test = ([json.loads(line) for line in files[s].read_text().splitlines()] for s in ('video_train',
                                                                                           'video_test'))
    assert len(train) == 9 and len(test) == 6
    assert {r['messages'][0]['content'] for r in train} == {'<video>圆形往哪个方向移动？', '<video>先出现的是什么颜色？',
                                                          '<video>一共出现了几个图形？'}
    assert not {open(r['videos'][0], 'rb').read() for r in train} & {open(r['videos'][0], 'rb').read() for r in test}
    frames, metadata = load_video(test[0]['videos'][0], backend='pyav')
    assert frames.shape == (16, 32, 32, 3) and metadata.fps == FPS and metadata.duration == 4
    still, _ = load_video(str(first_frame_clip(test[0]['videos'][0], tmp_path / 'still.mp4')), backend='pyav')
    assert still.shape == frames.shape and abs(still[-1].astype(int) - frames[0]).mean() < 4  # the first frame, held
    assert max(abs(frame.astype(int) - frames[0]).max() for frame in frames) > 100  # while the clip itself changes
