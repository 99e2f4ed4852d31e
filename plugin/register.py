"""swift plugin: model_type `qwen3_smvl` (a spliced SmolVLM2 vision + Qwen3 checkpoint) and its template.

  swift sft --external_plugins plugin/register.py --model <spliced folder> --model_type qwen3_smvl ...
  (`--custom_register_path plugin/register.py` is the swift 3.x name of the same flag and works too)
"""
import atexit
import os
import sys
from pathlib import Path

from swift.arguments import SftArguments
from swift.callbacks import callbacks_map
from swift.callbacks.base import TrainerCallback
from swift.infer_engine.utils import InferStreamer
from swift.rewards import ORM, orms
from swift.model import Model, ModelGroup, ModelLoader, ModelMeta, MultiModelKeys, register_model, register_model_arch
from swift.utils import get_logger, import_external_file, is_master
from transformers import AutoModelForImageTextToText

from qwen3_smvl.splice.config import ARCHITECTURE
from qwen3_smvl.datasets.registry import register as register_datasets
from qwen3_smvl.processor import load_processor
from qwen3_smvl.rl import rollout_log
from qwen3_smvl.rl.rewards import REWARDS, scores
from qwen3_smvl.serve import streaming
from qwen3_smvl.tokens import IMAGE_TOKEN, token_id
from qwen3_smvl.train.bad_rows import BadRowsCallback
from qwen3_smvl.train.packing import allow_masked_attention
from qwen3_smvl.train.sample_answers import SampleAnswersCallback
from qwen3_smvl.train.token_acc import TokenAccOnLoggingStepsCallback

TEMPLATE_TYPE = import_external_file(str(Path(__file__).with_name('template.py'))).TEMPLATE_TYPE
MODEL_TYPE = 'qwen3_smvl'
logger = get_logger()

register_model_arch(
    MultiModelKeys(
        MODEL_TYPE,
        # --freeze_llm / --freeze_aligner / --freeze_vit act on these prefixes
        language_model=['model.text_model', 'lm_head'],
        aligner='model.connector',
        vision_tower='model.vision_model',
    ))


class Qwen3SmVLLoader(ModelLoader):
    default_trust_remote_code = False  # plain transformers classes: no checkpoint code runs

    def get_processor(self, model_dir: str, config):
        processor = load_processor(model_dir)
        prompt_id = token_id(processor.tokenizer, IMAGE_TOKEN)
        if config.image_token_id != prompt_id:
            raise ValueError(f'{model_dir}: config.image_token_id is {config.image_token_id} but the tokenizer\'s '
                             f'{IMAGE_TOKEN} is {prompt_id}; the model would train blind. Rebuild it with '
                             'tools/build_model.py.')
        return processor

    def get_model(self, model_dir: str, *args, **kwargs):
        attach_deepspeed_comm()
        self.auto_model_cls = self.auto_model_cls or AutoModelForImageTextToText
        return super().get_model(model_dir, *args, **kwargs)


def attach_deepspeed_comm() -> None:
    """ZeRO-3's zero.Init reads the world size before it initialises deepspeed.comm: where torch.distributed is up
    but deepspeed.comm is not (CPU ranks, set up by accelerate with gloo), attach it first, or every rank counts 1."""
    import torch.distributed
    from transformers.integrations import is_deepspeed_zero3_enabled
    if is_deepspeed_zero3_enabled() and torch.distributed.is_initialized():
        import deepspeed
        deepspeed.comm.init_distributed(dist_backend=torch.distributed.get_backend())


def destroy_gloo_group_at_exit() -> None:
    """swift's sft never destroys its process group, and at interpreter exit gloo's worker threads then abort a rank
    (SIGABRT, 'terminate called without an active exception', pytorch/pytorch#190489). NCCL only warns: left alone."""
    import torch.distributed
    if torch.distributed.is_initialized() and torch.distributed.get_backend() == 'gloo':
        torch.distributed.destroy_process_group()


atexit.register(destroy_gloo_group_at_exit)


def reward_function(name: str) -> type:
    """swift's ORM for qwen3_smvl.rl.rewards' NAME (`--reward_funcs NAME`), logged as rewards/NAME."""
    def call(self, completions, solution=None, **kwargs):
        return scores(name, completions, solution)
    return type(name, (ORM,), {'__call__': call})


orms.update({name: reward_function(name) for name in REWARDS})  # box_iou, box_match, box_format, answer_match, ...
try:  # swift rlhf's trainers import msgspec, which ms-swift does not require (requirements-common.txt installs it)
    from swift.rlhf_trainers.grpo_trainer import GRPOTrainer
    rollout_log.apply(GRPOTrainer)
except ImportError as e:
    logger.debug(f'GRPO unavailable: {e}')


register_model(
    ModelMeta(
        MODEL_TYPE,
        [ModelGroup([Model(model_path=None)])],
        Qwen3SmVLLoader,
        template=TEMPLATE_TYPE,
        model_arch=MODEL_TYPE,
        # transformers' save_pretrained writes the class name: match trained checkpoints too
        architectures=[ARCHITECTURE, 'SmolVLMForConditionalGeneration'],
        is_multimodal=True,  # without it swift ignores --freeze_vit/--freeze_aligner for a custom type
        requires=['transformers>=5.0'],
        tags=['vision'],
    ))


class TrainableParametersCallback(TrainerCallback):
    """Writes OUTPUT_DIR/trainable_parameters.txt: every trainable tensor with its size, then the totals."""

    def on_train_begin(self, args, state, control, **kwargs):
        if not is_master():
            return
        model = self.trainer.model
        rows, trainable, total = [], 0, 0
        for name, p in model.named_parameters():
            n = getattr(p, 'ds_numel', p.numel())  # ZeRO-3 partitions parameters: ds_numel is the full size
            total += n
            if p.requires_grad:
                trainable += n
                rows.append(f'{name}\t{tuple(getattr(p, "ds_shape", p.shape))}\t{n}')
        os.makedirs(args.output_dir, exist_ok=True)
        with open(os.path.join(args.output_dir, 'trainable_parameters.txt'), 'w') as f:
            f.write('name\tshape\tparameters\n' + '\n'.join(rows) + '\n')
            f.write(f'trainable params: {trainable} || all params: {total} || trainable%: {100 * trainable / total:.4f}\n')


if 'swift.pipelines.infer.deploy' in sys.modules:  # loaded by `swift deploy`: limits for untrusted callers,
    from qwen3_smvl.serve import limits, reasoning  # and thinking in reasoning_content, the answer alone in content
    limits.apply(sys.modules['swift.pipelines.infer.deploy'])
    reasoning.apply(sys.modules['swift.pipelines.infer.deploy'].SwiftDeploy)
streaming.apply(InferStreamer)  # a streamed answer that comes in one output (vLLM) keeps its text

callbacks_map['trainable_parameters'] = TrainableParametersCallback
callbacks_map['sample_answers'] = SampleAnswersCallback
callbacks_map['bad_rows'] = BadRowsCallback
callbacks_map['token_acc_on_logging_steps'] = TokenAccOnLoggingStepsCallback
allow_masked_attention(SftArguments, MODEL_TYPE)  # --packing/--padding_free with sdpa and eager too
register_datasets()  # the_cauldron and Chinese sets (qwen3_smvl/datasets/registry.py)
