"""Translate a swift jsonl's user and assistant turns into Chinese through an OpenAI-compatible endpoint.

  python tools/translate_dataset.py --api-url http://127.0.0.1:8000/v1 --model qwen3-8b \
      --input data_en.jsonl --output data_zh.jsonl [--concurrency 8]

Tags (<image>, <ref-object>, <bbox>, special tokens), option letters and numbers stay as they are; images and every
other key are copied. Interrupted, it resumes where it stopped (rows are keyed by `id`); failed rows are counted,
not written, and retried by the next run. Exit status 1 when a row failed. --input may also be a dataset swift
loads by name or folder (e.g. a the_cauldron subset): its images are written beside the output, OUTPUT_images/.
"""
import argparse
import sys
from pathlib import Path

from qwen3_smvl.datasets.translate import Endpoint, translate_file
from qwen3_smvl.inputs import InputError, check


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--api-url', required=True, help='OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1')
    ap.add_argument('--model', required=True, help='the served model name')
    ap.add_argument('--input', required=True, help='a swift jsonl, or a dataset name or folder swift loads')
    ap.add_argument('--output', required=True, type=Path, help='the translated swift jsonl (appended, resumable)')
    ap.add_argument('--concurrency', type=int, default=4, help='rows in flight at once')
    ap.add_argument('--retries', type=int, default=4, help='retries per request, with exponential backoff')
    ap.add_argument('--backoff', type=float, default=1.0, help='seconds before the first retry (doubling)')
    ap.add_argument('--max-tokens', type=int, default=2048, help='cap on the tokens of one translated piece')
    ap.add_argument('--api-key', default=None)
    args = ap.parse_args(argv)
    try:
        check(args.input, 'DATASET', {})  # a typo or an unreachable hub: one line now, not a time-out later
    except InputError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    endpoint = Endpoint(args.api_url, args.model, args.api_key, args.retries, args.backoff, max_tokens=args.max_tokens)
    counts = translate_file(args.input, args.output, endpoint, args.concurrency)
    for failure in counts['failures'][:10]:
        print(f'failed: {failure}', file=sys.stderr)
    print(f'translated {counts["translated"]}, skipped {counts["skipped"]} (already done), failed {counts["failed"]}'
          f' -> {args.output}')
    if counts['failed']:
        print('re-run the same command to retry the failed rows', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
