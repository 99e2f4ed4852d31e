"""Bad input: a one-line error naming the problem, and nothing written."""
import json
import shutil
import textwrap

import pytest
from tokenizers import Tokenizer

from qwen3_smvl.splice.config import MANIFEST
from qwen3_smvl.splice.surgery import build

from conftest import run_tool


def assert_nothing_written(out):
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f'.{out.name}.')]


def cli_error(tiny_donors, out, vision=None, llm=None, *extra):
    res = run_tool('tools/build_model.py', '--vision', vision or tiny_donors / 'vision', '--llm',
                   llm or tiny_donors / 'llm', '--out', out, *extra, check=False)
    assert res.returncode == 2, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ')
    return last


def test_missing_folder(tiny_donors, tmp_path):
    out = tmp_path / 'out'
    assert 'donor folder not found' in cli_error(tiny_donors, out, vision=tmp_path / 'nope')
    assert_nothing_written(out)


def test_vision_donor_that_is_not_smolvlm(tiny_donors, tmp_path):
    out = tmp_path / 'out'
    line = cli_error(tiny_donors, out, vision=tiny_donors / 'llm')
    assert "model_type 'qwen3'" in line and 'smolvlm' in line
    assert_nothing_written(out)


def test_llm_that_is_not_qwen3(tiny_donors, tmp_path):
    out = tmp_path / 'out'
    line = cli_error(tiny_donors, out, llm=tiny_donors / 'vision')
    assert "model_type 'smolvlm'" in line and 'qwen3' in line
    assert_nothing_written(out)


def test_missing_weights(tiny_donors, tmp_path):
    llm = tmp_path / 'llm'
    shutil.copytree(tiny_donors / 'llm', llm)
    (llm / 'model.safetensors').unlink()
    out = tmp_path / 'out'
    assert 'has no model.safetensors' in cli_error(tiny_donors, out, llm=llm)
    assert_nothing_written(out)


def test_tokenizer_without_image_pad(tiny_donors, tmp_path):
    llm = tmp_path / 'llm'
    shutil.copytree(tiny_donors / 'llm', llm)
    data = json.loads((llm / 'tokenizer.json').read_text())
    data['added_tokens'] = [t for t in data['added_tokens'] if t['content'] != '<|image_pad|>']
    data['model']['vocab'].pop('<|image_pad|>')
    Tokenizer.from_str(json.dumps(data)).save(str(llm / 'tokenizer.json'))
    out = tmp_path / 'out'
    line = cli_error(tiny_donors, out, llm=llm)
    assert "lacks the tokens ['<|image_pad|>']" in line
    assert_nothing_written(out)


def test_mismatched_dimensions(tiny_donors, tmp_path):
    llm = tmp_path / 'llm'
    shutil.copytree(tiny_donors / 'llm', llm)
    config = json.loads((llm / 'config.json').read_text())
    config['hidden_size'] *= 2
    (llm / 'config.json').write_text(json.dumps(config))
    out = tmp_path / 'out'
    assert 'hidden_size is' in cli_error(tiny_donors, out, llm=llm)
    assert_nothing_written(out)


def test_existing_output_needs_overwrite(tiny_donors, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'keep.txt').write_text('mine')
    assert 'exists (pass --overwrite' in cli_error(tiny_donors, out)
    assert (out / 'keep.txt').read_text() == 'mine'
    build(tiny_donors / 'vision', tiny_donors / 'llm', out, overwrite=True)
    assert (out / MANIFEST).is_file() and not (out / 'keep.txt').exists()
    assert [p.name for p in tmp_path.iterdir()] == ['out']  # no partial or old folders left behind


def test_interrupted_build_leaves_nothing(tiny_donors, tmp_path, monkeypatch):
    import qwen3_smvl.splice.surgery as splice

    def interrupt(_):
        raise KeyboardInterrupt

    monkeypatch.setattr(splice, 'run_self_check', interrupt)
    out = tmp_path / 'out'
    with pytest.raises(KeyboardInterrupt):
        build(tiny_donors / 'vision', tiny_donors / 'llm', out)
    assert_nothing_written(out)


def test_killed_build_leaves_no_folder_that_looks_complete(tiny_donors, tmp_path):
    """SIGKILL after every tensor was written: only a hidden partial folder remains, without the manifest."""
    out = tmp_path / 'out'
    script = textwrap.dedent(f'''
        import os, signal
        import qwen3_smvl.splice.surgery as splice
        splice.run_self_check = lambda d: os.kill(os.getpid(), signal.SIGKILL)
        splice.build({str(tiny_donors / 'vision')!r}, {str(tiny_donors / 'llm')!r}, {str(out)!r})
    ''')
    res = run_tool('-c', script, check=False)
    assert res.returncode == -9
    assert not out.exists()
    leftovers = list(tmp_path.iterdir())
    assert all(p.name.startswith('.out.partial-') for p in leftovers)
    assert all(not (p / MANIFEST).exists() for p in leftovers)


def test_vision_weights_copy_matching_tensors_only(tiny_donors, tmp_path):
    """A SigLIP2 tower: encoder tensors match by name and shape, the patch embedding (linear, not conv) does not."""
    import torch
    from safetensors import safe_open
    from transformers import Siglip2VisionConfig, Siglip2VisionModel
    v = json.loads((tiny_donors / 'vision' / 'config.json').read_text())['vision_config']
    siglip2 = Siglip2VisionModel(Siglip2VisionConfig(hidden_size=v['hidden_size'], intermediate_size=v['intermediate_size'],
                                                    num_hidden_layers=v['num_hidden_layers'],
                                                    num_attention_heads=v['num_attention_heads'],
                                                    patch_size=v['patch_size'], num_patches=256))
    siglip2.save_pretrained(tmp_path / 'siglip2')
    out = tmp_path / 'out'
    build(tiny_donors / 'vision', tiny_donors / 'llm', out, vision_weights=tmp_path / 'siglip2')
    manifest = json.loads((out / MANIFEST).read_text())
    assert 'model.vision_model.embeddings.patch_embedding.weight' in manifest['vision_weights_skipped']
    name = 'model.vision_model.encoder.layers.0.self_attn.q_proj.weight'
    assert name not in manifest['vision_weights_skipped']
    with safe_open(out / 'model.safetensors', 'pt') as f:
        assert torch.equal(f.get_tensor(name), siglip2.encoder.layers[0].self_attn.q_proj.weight)


def test_vision_weights_with_nothing_matching_are_refused(tiny_donors, tmp_path):
    out = tmp_path / 'out'
    line = cli_error(tiny_donors, out, None, None, '--vision-weights', tiny_donors / 'llm')
    assert 'vision-weights' in line
    assert_nothing_written(out)
