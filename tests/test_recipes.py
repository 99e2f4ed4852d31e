"""The recipes, run for real: `swift sft` / `swift export` / `swift infer` on the tiny splice, on the CPU."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import REPO
from test_splice import tensors

pytestmark = pytest.mark.slow
CONNECTOR = 'model.connector.modality_projection.proj.weight'


def recipe_env(**overrides):
    env = {**os.environ, 'PATH': f'{Path(sys.executable).parent}:{os.environ["PATH"]}', 'TORCH_DTYPE': 'float32',
           'WORKERS': '0', 'DATASET_NUM_PROC': '1', 'BATCH_SIZE': '4', 'LOGGING_STEPS': '1'}
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def run_recipe(name, timeout=900, **env):
    res = subprocess.run(['bash', str(REPO / 'recipes' / name)], cwd=REPO, env=recipe_env(**env), capture_output=True,
                         text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    return res.stdout + res.stderr


def trainable(output_dir):
    lines = (Path(output_dir) / 'trainable_parameters.txt').read_text().splitlines()
    names = [line.split('\t')[0] for line in lines[1:-1]]
    count = int(lines[-1].split('trainable params: ')[1].split(' ')[0])
    return names, count


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    from qwen3_smvl.datasets.synthetic import make_dataset
    files = make_dataset(tmp_path_factory.mktemp('data'), train=24, test=4, size=48, text_only=4)
    # Two bad rows the runs must survive: an unreadable image, and twelve images that cannot fit MAX_LENGTH.
    corrupt = files['train'].parent / 'corrupt.png'
    corrupt.write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    image = str(next((files['train'].parent / 'images' / 'train').iterdir()))
    bad_rows = [
        {'id': 'bad-image', 'messages': [{'role': 'user', 'content': '<image>这张图坏了吗？'},
                                         {'role': 'assistant', 'content': '红色'}], 'images': [str(corrupt)]},
        {'id': 'too-long', 'messages': [{'role': 'user', 'content': '这些图一样吗？' + '<image>' * 12},
                                        {'role': 'assistant', 'content': '一样'}], 'images': [image] * 12},
    ]
    with files['train'].open('a') as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + '\n' for r in bad_rows)
    return files


@pytest.fixture(scope='module')
def stage1(tiny_splice, data, tmp_path_factory):
    out = tmp_path_factory.mktemp('stage1') / 'run'
    # Every row encoded up front, so that the bad ones are met whatever the sampling order.
    log = run_recipe('stage1.sh', MODEL=tiny_splice, DATASET=data['train'], OUTPUT_DIR=out, MAX_STEPS=4, SAVE_STEPS=4,
                     MAX_LENGTH=300, LAZY_TOKENIZE='false', **STAGE1_SAMPLING)
    return out, log


# The stage-1 fixture answers sample questions every 2 steps and reports to TensorBoard and SwanLab (offline).
STAGE1_SAMPLING = dict(SAMPLE_STEPS=2, SAMPLE_N=3, SAMPLE_MAX_NEW_TOKENS=6, REPORT_TO='tensorboard swanlab')


def test_bad_rows_are_named_and_skipped(stage1):
    _, log = stage1
    # swift keeps no extra columns, so a sample is named by its first question (and an image by its path)
    assert "image 0 of the sample '<image>这张图坏了吗？'" in log and 'corrupt.png: not a readable image' in log
    assert "dropping the sample '这些图一样吗？" in log and '> max_length 300' in log


def huge_png_header(path, side=30000):
    """A PNG whose header says side x side (too many pixels to decode): what the size check must refuse unread."""
    import struct
    import zlib
    ihdr = struct.pack('>IIBBBBB', side, side, 8, 2, 0, 0, 0)

    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))

    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IEND', b''))


def test_stage1_over_200_rows_with_bad_ones(tiny_splice, tmp_path):
    """10% bad rows of seven kinds: the run finishes on exactly the 180 good rows, one line per bad row, a count."""
    from qwen3_smvl.datasets.synthetic import make_dataset
    files = make_dataset(tmp_path / 'data', train=176, test=1, size=48, text_only=4)
    image = str(next((tmp_path / 'data' / 'images' / 'train').iterdir()))
    (tmp_path / 'zero.png').write_bytes(b'')
    (tmp_path / 'truncated.png').write_bytes(Path(image).read_bytes()[:60])
    huge_png_header(tmp_path / 'huge.png')

    def row(k, question, images, answer='红色'):
        return {'messages': [{'role': 'user', 'content': question}, {'role': 'assistant', 'content': answer}],
                'images': images}

    bad = {
        'missing image file': [row(k, f'<image>缺图{k}？', [str(tmp_path / f'missing-{k}.png')]) for k in range(3)],
        'unreadable image': [row(k, f'<image>坏图{k}？', [str(tmp_path / name)]) for k, name in
                             enumerate(['truncated.png', 'zero.png', 'truncated.png'])],
        'image too large': [row(k, f'<image>大图{k}？', [str(tmp_path / 'huge.png')]) for k in range(3)],
        'too long for MAX_LENGTH': [row(k, f'长{k}' + '<image>' * 12, [image] * 12) for k in range(3)],
        'empty assistant turn': [row(k, f'<image>空答{k}？', [image], answer='') for k in range(3)],
        'image tags do not match images': [row(k, f'<image><image>多标签{k}？', [image]) for k in range(3)],
        'unreadable image ': [row(k, f'<image>零字节{k}？', [str(tmp_path / 'zero.png')]) for k in range(2)],
    }
    with files['train'].open('a') as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + '\n' for rows in bad.values() for r in rows)
    out = tmp_path / 'run'
    log = run_recipe('stage1.sh', MODEL=tiny_splice, DATASET=files['train'], OUTPUT_DIR=out, MAX_STEPS=2, SAVE_STEPS=2,
                     MAX_LENGTH=300, LAZY_TOKENIZE='false', SAMPLE_STEPS=0)
    assert len(files['train'].read_text().splitlines()) == 200
    assert 'num_rows: 180\n' in log  # encoded up front: exactly the good rows are trained on
    lines = [line for line in log.splitlines() if 'bad row ' in line or 'dropping the sample' in line]
    assert len(lines) == 20, lines
    expected = {'unreadable image': 5, 'missing image file': 3, 'image too large': 3, 'too long for MAX_LENGTH': 3,
                'empty assistant turn': 3, 'image tags do not match images': 3}
    summary = next(line for line in log.splitlines() if 'before training: 20 bad rows dropped: ' in line)
    assert all(f'{cause} {n}' in summary for cause, n in expected.items()), summary
    assert len((out / 'bad_rows.jsonl').read_text().splitlines()) == 20


def test_stage1_trains_exactly_the_connector(tiny_splice, stage1):
    out, log = stage1
    names, count = trainable(out)
    manifest = json.loads((tiny_splice / 'qwen3_smvl_manifest.json').read_text())
    assert names == [CONNECTOR]
    assert count == manifest['parameters']['connector']
    assert f"({count / 1e6:.4f}M Trainable" in log  # swift's own model_parameter_info agrees
    assert 'dtype: float32, attention: sdpa (CPU)' in log and '--attn_impl sdpa' in log
    assert '128002' not in log  # transformers' default SmolVLM config is not warned about (qwen3_smvl/upstream.py)
    before, after = tensors(tiny_splice), tensors(out / 'last-checkpoint')
    assert not torch.equal(before[CONNECTOR], after[CONNECTOR])
    frozen = [k for k in before if k != CONNECTOR]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert (out / 'images' / 'train_loss.png').stat().st_size > 1000
    assert f'loss plot: {out}/images/train_loss.png' in log


def test_sample_answers_are_written_and_tracked(stage1, data):
    out, log = stage1
    rows = [json.loads(line) for line in (out / 'samples.jsonl').read_text().splitlines()]
    assert [r['step'] for r in rows] == [2, 2, 2, 4, 4, 4]
    first = [json.loads(line) for line in data['train'].read_text().splitlines() if 'images' in line][:3]
    assert [r['id'] for r in rows[:3]] == [r['id'] for r in first]  # the first image rows of the data, in order
    assert all(r['images'] and r['question'].startswith('<image>') and r['expected'] for r in rows)
    assert all(isinstance(r['answer'], str) and r['answer'] for r in rows)
    assert 'sample answers at step 4:' in log and 'of training (' in log
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(out / 'runs' / 'samples'), size_guidance={'tensors': 0, 'images': 0}).Reload()
    assert 'samples/answers/text_summary' in acc.Tags()['tensors'] and 'samples/row0_image0' in acc.Tags()['images']
    steps = [e.step for e in acc.Tensors('samples/answers/text_summary')]
    assert steps == [2, 4]
    # SwanLab, offline: the loss curve and the answers are in its local log
    logged = [json.loads(line)['data'] for f in (out / 'swanlog').glob('run-*/logs/*/*.log')
              for line in f.read_text().splitlines()]
    history = json.loads((out / 'last-checkpoint' / 'trainer_state.json').read_text())['log_history']
    losses = [h['loss'] for h in history if 'loss' in h]
    assert len(losses) == 4 and all(any(isinstance(v, float) and abs(v - loss) < 1e-6 for v in logged)
                                    for loss in losses)
    answers = [v for v in logged if isinstance(v, list) and v and isinstance(v[0], str) and ' -> ' in v[0]]
    assert len(answers) == 2 and answers[0][0].startswith(rows[0]['question'])


def test_sample_answers_do_not_change_training(stage1, tiny_splice, data, tmp_path):
    out = tmp_path / 'no-samples'
    run_recipe('stage1.sh', MODEL=tiny_splice, DATASET=data['train'], OUTPUT_DIR=out, MAX_STEPS=4, SAVE_STEPS=4,
               MAX_LENGTH=300, LAZY_TOKENIZE='false', SAMPLE_STEPS=0)
    assert not (out / 'samples.jsonl').exists()

    def curve(run):
        history = json.loads((run / 'last-checkpoint' / 'trainer_state.json').read_text())['log_history']
        return [(h['loss'], h['grad_norm']) for h in history if 'loss' in h]

    assert curve(out) == curve(stage1[0]) and len(curve(out)) == 4  # to the last digit swift logs
    assert torch.equal(tensors(out / 'last-checkpoint')[CONNECTOR], tensors(stage1[0] / 'last-checkpoint')[CONNECTOR])


# The recipe's faster defaults against swift's way, one knob at a time: the same training, to float tolerance.
SWIFT_WAY = {'GRADIENT_CHECKPOINTING': 'true', 'PADDING_FREE': 'false', 'TOKEN_ACC': 'every_step',
             'CPU_ALLOCATOR': 'glibc'}
SHORT_RUN = dict(MAX_STEPS=4, SAVE_STEPS=4, MAX_LENGTH=300, LAZY_TOKENIZE='false', SAMPLE_STEPS=0, LOGGING_STEPS=2)


def logged(run):
    history = json.loads((run / 'last-checkpoint' / 'trainer_state.json').read_text())['log_history']
    return [h for h in history if 'loss' in h]


@pytest.fixture(scope='module')
def fast_defaults(tiny_splice, data, tmp_path_factory):
    out = tmp_path_factory.mktemp('fast') / 'run'
    log = run_recipe('stage1.sh', MODEL=tiny_splice, DATASET=data['train'], OUTPUT_DIR=out, **SHORT_RUN)
    return out, log


def test_recipe_says_what_it_decided_on_its_first_line(fast_defaults):
    first = fast_defaults[1].splitlines()[0]
    assert first.startswith('dtype: float32, attention: sdpa (CPU), gradient checkpointing: off (auto: a step of 4x300')
    assert first.endswith('padding_free: true, packing: false')
    assert '--gradient_checkpointing false --padding_free true' in fast_defaults[1]


@pytest.mark.parametrize('knob', sorted(SWIFT_WAY))
def test_faster_default_trains_as_swifts_way(fast_defaults, tiny_splice, data, tmp_path, knob):
    out = tmp_path / knob
    run_recipe('stage1.sh', MODEL=tiny_splice, DATASET=data['train'], OUTPUT_DIR=out, **SHORT_RUN,
               **{knob: SWIFT_WAY[knob]})
    ours, swifts = logged(fast_defaults[0]), logged(out)
    assert [h['step'] for h in ours] == [h['step'] for h in swifts] == [1, 2, 4]
    for key in ('loss', 'grad_norm'):
        torch.testing.assert_close(torch.tensor([h[key] for h in ours]), torch.tensor([h[key] for h in swifts]),
                                   rtol=1e-4, atol=1e-5)
    assert all('token_acc' in h for h in ours + swifts)  # still logged, on the steps that log
    torch.testing.assert_close(tensors(fast_defaults[0] / 'last-checkpoint')[CONNECTOR],
                               tensors(out / 'last-checkpoint')[CONNECTOR], rtol=1e-4, atol=1e-6)


def test_packing_with_attention_that_cannot_keep_rows_apart_is_refused(tiny_splice, data, tmp_path):
    res = subprocess.run(['bash', str(REPO / 'recipes' / 'stage1.sh')], cwd=REPO, capture_output=True, text=True,
                         env=recipe_env(MODEL=tiny_splice, DATASET=data['train'], OUTPUT_DIR=tmp_path / 'flex',
                                        ATTN_IMPL='flex_attention', PACKING='true', LAZY_TOKENIZE='false'))
    assert res.returncode != 0
    assert '--packing with attn_impl flex_attention needs a GPU' in res.stderr
    assert not (tmp_path / 'flex' / 'last-checkpoint').exists()


def test_stage2_lora_merges_to_a_plain_transformers_checkpoint(stage1, data, tmp_path):
    from transformers import AutoModelForImageTextToText
    from qwen3_smvl.splice.check import run_self_check
    out = tmp_path / 'lora'
    run_recipe('stage2.sh', MODEL=stage1[0] / 'last-checkpoint', TUNER='lora', DATASET=data['train'], OUTPUT_DIR=out,
               MAX_STEPS=2, SAVE_STEPS=2)
    names, _ = trainable(out)
    assert any('.lora_A.' in n for n in names)
    assert any('connector.modules_to_save' in n for n in names)
    assert not any('vision_model' in n for n in names)
    merged = Path(f'{out}-merged')
    model = AutoModelForImageTextToText.from_pretrained(merged)
    assert not any('lora' in k for k in model.state_dict())
    assert run_self_check(merged)['max_logit_diff_image_vs_blank'] > 1e-6

    # SIGKILL inside the merge's write: no MERGED_DIR appears; re-running the recipe trains nothing and finishes it.
    shutil.rmtree(merged)
    proc = subprocess.Popen([sys.executable, 'tools/merge_lora.py', '--adapters', str(out / 'last-checkpoint'),
                             '--out', str(merged)], cwd=REPO, env=recipe_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline and not list(tmp_path.glob('.lora-merged.partial-*/*')):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not merged.exists() and list(tmp_path.glob('.lora-merged.partial-*/*'))  # only the hidden, partial one
    log = run_recipe('stage2.sh', MODEL=stage1[0] / 'last-checkpoint', TUNER='lora', DATASET=data['train'],
                     OUTPUT_DIR=out, MAX_STEPS=2, SAVE_STEPS=2)
    assert 'nothing to train' in log and f'merged: {merged}' in log
    assert run_self_check(merged)['max_logit_diff_image_vs_blank'] > 1e-6
    assert not list(tmp_path.glob('.lora-merged.*'))  # the killed run's partial folder is gone


def test_stage2_full_with_last_vision_layers(stage1, data, tmp_path):
    out = tmp_path / 'full'
    run_recipe('stage2.sh', MODEL=stage1[0] / 'last-checkpoint', TUNER='full', VIT_LAST_N=1, DATASET=data['train'],
               OUTPUT_DIR=out, MAX_STEPS=2, SAVE_STEPS=2)
    names, _ = trainable(out)
    assert CONNECTOR in names and 'model.text_model.layers.0.mlp.down_proj.weight' in names
    assert 'model.vision_model.encoder.layers.1.mlp.fc1.weight' in names  # the last of 2 layers
    assert 'model.vision_model.post_layernorm.weight' in names
    assert not any(n.startswith('model.vision_model.encoder.layers.0.') for n in names)
    assert not any('embeddings.patch_embedding' in n for n in names)


def test_two_processes_on_the_cpu(tiny_splice, data, tmp_path):
    out = tmp_path / 'ddp'
    log = run_recipe('stage1.sh', MODEL=tiny_splice, DATASET=data['train'], OUTPUT_DIR=out, MAX_STEPS=3, SAVE_STEPS=3,
                     BATCH_SIZE=2, NPROC_PER_NODE=2, MASTER_PORT=29561)
    assert 'world_size: 2' in log
    assert json.loads((out / 'last-checkpoint' / 'trainer_state.json').read_text())['global_step'] == 3


@pytest.mark.parametrize('stage', ['zero2', 'zero3'])
def test_deepspeed_two_ranks_with_mixed_text_and_image_batches(tiny_splice, data, tmp_path, stage):
    """Two CPU ranks, float32: ZeRO-3 gathers in module order, so a text-only batch on one rank and an image batch on
    the other must run the same modules (the seed's step 2 has both)."""
    out = tmp_path / stage
    log = run_recipe('stage1.sh', MODEL=tiny_splice, DATASET=data['train'], OUTPUT_DIR=out, MAX_STEPS=4, SAVE_STEPS=4,
                     BATCH_SIZE=2, NPROC_PER_NODE=2, MASTER_PORT=29562, DEEPSPEED=stage)
    assert 'world_size: 2' in log and f"'stage': {stage[-1]}" in log
    assert '--fp16 false --bf16 false' in log  # float32 is not turned into fp16 AMP (DeepSpeed refuses it on AVX2)
    assert json.loads((out / 'last-checkpoint' / 'trainer_state.json').read_text())['global_step'] == 4
    names, count = trainable(out)
    assert names == [CONNECTOR] and count > 0  # ds_numel: the full size under partitioning
    assert not torch.equal(tensors(tiny_splice)[CONNECTOR], tensors(out / 'last-checkpoint')[CONNECTOR])


def test_killed_run_resumes_from_its_last_checkpoint(tiny_splice, data, tmp_path):
    out = tmp_path / 'resume'
    env = dict(MODEL=tiny_splice, DATASET=data['train'], OUTPUT_DIR=out, MAX_STEPS=30, SAVE_STEPS=5, BATCH_SIZE=2)
    proc = subprocess.Popen(['bash', str(REPO / 'recipes' / 'stage1.sh')], cwd=REPO, env=recipe_env(**env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    while not (out / 'last-checkpoint').exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = int(os.readlink(out / 'last-checkpoint').rsplit('-', 1)[1])
    assert 0 < saved < 30
    log = run_recipe('stage1.sh', **env)
    assert f'resuming from {out}/checkpoint-{saved}' in log
    state = json.loads((out / 'last-checkpoint' / 'trainer_state.json').read_text())
    assert state['global_step'] == 30
    steps = [h['step'] for h in state['log_history'] if 'loss' in h]
    # one history, no step trained twice after the checkpoint: the killed run lost less than SAVE_STEPS steps
    assert steps == list(range(1, 31))
    # the finished run, re-run: nothing to train, no checkpoint-31
    log = run_recipe('stage1.sh', **env)
    assert 'nothing to train' in log and 'resuming from' not in log
    assert json.loads((out / 'last-checkpoint' / 'trainer_state.json').read_text())['global_step'] == 30


def test_swift_infer_answers_about_an_image(stage1, data, tmp_path):
    result = tmp_path / 'infer.jsonl'
    env = recipe_env()
    # swift 3.x's flag name for the plugin, which swift 4 still accepts
    res = subprocess.run(['swift', 'infer', '--custom_register_path', str(REPO / 'plugin' / 'register.py'),
                          '--model', str(stage1[0] / 'last-checkpoint'), '--infer_backend', 'transformers',
                          '--val_dataset', str(data['test']), '--max_new_tokens', '8', '--temperature', '0',
                          '--result_path', str(result)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [json.loads(line) for line in result.read_text().splitlines()]
    assert len(rows) == 4
    assert all(r['images'] and isinstance(r['response'], str) and r['response'] for r in rows)
