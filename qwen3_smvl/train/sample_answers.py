"""What the model answers while it trains: a swift callback (`--callbacks sample_answers`, on in the recipes).

Every SAMPLE_STEPS optimizer steps, and at the last step, rank 0 answers a fixed set of held-out questions greedily with
the model being trained, through swift's own TransformersEngine and the trainer's template. Answers go to
OUTPUT_DIR/samples.jsonl always, and to TensorBoard (text, and the images once) and SwanLab when they are trackers.

  SAMPLE_STEPS           interval in steps; 0 turns sampling off
  SAMPLE_DATASET         a swift jsonl (messages + images) whose first rows are asked; the recipes default it to
                         VAL_DATASET, else DATASET, when that is a local file
  SAMPLE_N               how many rows (image rows first), default 4
  SAMPLE_MAX_NEW_TOKENS  default 64

Training is not changed by it: the RNG states, the template's mode and the model's train/eval mode are put back.
Under ZeRO-3 it is off (one rank cannot generate alone when every rank holds a shard of each parameter).
"""
import json
import os
import random
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
from swift.callbacks.base import TrainerCallback
from swift.utils import get_env_args, get_logger

from ..grounding import render
from ..images import open_image

logger = get_logger()


def load_sample_rows(path: str, n: int) -> List[dict]:
    """The first n rows of a swift jsonl, rows with images first, each as (prompt messages, images, videos,
    expected)."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    # a box in a question needs the template's image-size normalisation: such rows are not asked
    rows = [r for r in rows if not any('<bbox>' in m['content'] for m in r['messages'] if m['role'] == 'user')]
    rows = sorted(rows, key=lambda r: not r.get('images'))[:n]  # stable: file order within each group
    samples = []
    for i, row in enumerate(rows):
        # a grounding row's <ref-object> tags filled in as the template does; its answer's boxes stay as tags
        messages = [dict(m, content=render(m['content'], row['objects'])) if row.get('objects') and m['role'] == 'user'
                    else m for m in row['messages']]
        expected = messages[-1]['content'] if messages[-1]['role'] == 'assistant' else None
        prompt = messages[:-1] if expected is not None else messages
        samples.append({'row': i, 'id': row.get('id'), 'messages': prompt, 'images': row.get('images') or [],
                        'videos': row.get('videos') or [],
                        'question': next((m['content'] for m in reversed(prompt) if m['role'] == 'user'), ''),
                        'expected': expected})
    return samples


class SampleAnswersCallback(TrainerCallback):

    def __init__(self, args, trainer):
        super().__init__(args, trainer)
        self.interval = get_env_args('SAMPLE_STEPS', int, 0)
        self.dataset: Optional[str] = os.environ.get('SAMPLE_DATASET') or None
        self.n = get_env_args('SAMPLE_N', int, 4)
        self.max_new_tokens = get_env_args('SAMPLE_MAX_NEW_TOKENS', int, 64)
        self.samples: List[dict] = []
        self.seconds, self.started, self.last_step, self.tb_writer = 0., 0., -1, None

    def on_train_begin(self, args, state, control, **kwargs):
        from transformers.integrations import is_deepspeed_zero3_enabled
        if not state.is_world_process_zero or self.interval <= 0:
            return
        if is_deepspeed_zero3_enabled():
            logger.warning('sample answers are off under ZeRO-3: one rank cannot generate while the others train')
            return
        if not self.dataset or not Path(self.dataset).is_file():
            logger.warning(f'sample answers are off: SAMPLE_DATASET={self.dataset!r} is not a local jsonl file')
            return
        self.samples = load_sample_rows(self.dataset, self.n)
        self.started = time.perf_counter()
        logger.info(f'sample answers: {len(self.samples)} rows of {self.dataset} every {self.interval} steps '
                    f'-> {args.output_dir}/samples.jsonl')
        if 'tensorboard' in (args.report_to or []):
            from torch.utils.tensorboard import SummaryWriter
            # a run of its own (logging_dir/samples): swift plots the loss from the first event file it finds
            self.tb_writer = SummaryWriter(log_dir=os.path.join(args.logging_dir, 'samples'))
            for s in self.samples:
                for k, image in enumerate(s['images']):
                    self.tb_writer.add_image(f'samples/row{s["row"]}_image{k}', np.asarray(open_image(image)),
                                             state.global_step, dataformats='HWC')
        if 'swanlab' in (args.report_to or []):
            import swanlab
            if swanlab.get_run() is not None:
                swanlab.log({'samples/images': [swanlab.Image(open_image(image), caption=s['question'])
                                                for s in self.samples for image in s['images']]})

    def on_step_end(self, args, state, control, **kwargs):
        if not self.samples:
            return
        if state.global_step % self.interval == 0 or state.global_step == state.max_steps:
            self.sample(args, state)

    def on_train_end(self, args, state, control, **kwargs):
        if not self.samples:
            return
        if self.last_step != state.global_step:  # a run that ends before max_steps (epochs done, or stopped)
            self.sample(args, state)
        total = time.perf_counter() - self.started
        logger.info(f'sample answers: {self.seconds:.1f}s of {total:.1f}s of training '
                    f'({100 * self.seconds / max(total, 1e-9):.1f}%)')
        if self.tb_writer is not None:
            self.tb_writer.close()

    def sample(self, args, state) -> None:
        from swift.infer_engine import InferRequest, RequestConfig, TransformersEngine
        t0 = time.perf_counter()
        model, template = self.trainer.model, self.trainer.template
        mode, training, padding_free = template.mode, model.training, template.padding_free
        rng = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
               torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)
        try:
            template.padding_free = False  # generation pads its batch, as swift's own predict step does
            engine = TransformersEngine(model, template=template, max_batch_size=len(self.samples))
            requests = [InferRequest(messages=s['messages'], images=list(s['images']), videos=list(s['videos']))
                        for s in self.samples]
            responses = engine.infer(requests, RequestConfig(max_tokens=self.max_new_tokens, temperature=0),
                                     use_tqdm=False)
        finally:
            template.set_mode(mode)
            template.padding_free = padding_free
            model.train(training)
            random.setstate(rng[0])
            np.random.set_state(rng[1])
            torch.set_rng_state(rng[2])
            if rng[3] is not None:
                torch.cuda.set_rng_state_all(rng[3])
        answers = [r.choices[0].message.content for r in responses]
        rows = [{'step': state.global_step, 'row': s['row'], 'id': s['id'], 'question': s['question'],
                 'images': [str(i) for i in s['images']], 'videos': [str(v) for v in s['videos']], 'answer': a,
                 'expected': s['expected']}
                for s, a in zip(self.samples, answers)]
        with open(os.path.join(args.output_dir, 'samples.jsonl'), 'a') as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + '\n' for r in rows)
        table = '| row | question | answer | expected |\n|---|---|---|---|\n' + ''.join(
            f'| {r["row"]} | {r["question"]} | {r["answer"]} | {r["expected"]} |\n' for r in rows)
        if self.tb_writer is not None:
            self.tb_writer.add_text('samples/answers', table, state.global_step)
            self.tb_writer.flush()
        if 'swanlab' in (args.report_to or []):
            import swanlab
            if swanlab.get_run() is not None:
                swanlab.log({'samples/answers': [swanlab.Text(f'{r["question"]} -> {r["answer"]}') for r in rows]},
                            step=state.global_step)
        logger.info(f'sample answers at step {state.global_step}: '
                    + '; '.join(f'{r["question"]!r} -> {r["answer"]!r}' for r in rows))
        self.last_step = state.global_step
        self.seconds += time.perf_counter() - t0
