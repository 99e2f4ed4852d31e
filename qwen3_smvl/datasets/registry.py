"""Datasets registered with swift by the plugin: the_cauldron (all 50 subsets) and the Chinese sets swift lacks.

  DATASET=AI-ModelScope/the_cauldron:cocoqa          ModelScope (hf::HuggingFaceM4/the_cauldron:cocoqa: Hugging Face)
  DATASET=/data/the_cauldron/cocoqa                  a local subset folder as `modelscope download` leaves it
  DATASET=hf::BUAADreamer/llava-en-zh-300k:zh        LLaVA-Instruct-150K in Chinese (a local `zh` folder works too)

the_cauldron's rows are `images` (a list) and `texts` (a list of {user, assistant, source}); each becomes swift
messages with every turn kept and every image's tag at the start of the first question, where the_cauldron's own
models (Idefics2) put them. A local folder is matched by its name, as swift matches local copies of registered
datasets; a folder so named whose rows have no `texts` column goes through swift's usual preprocessing.

Lists of images stay encoded until the template opens them: swift only keeps a single-image column encoded, so a
list would be decoded while preprocessing, and one corrupt picture would stop the whole dataset instead of dropping
its row with its name.
"""
import json
from typing import Any, Dict, Optional

from datasets import Image, List
from swift.dataset import DatasetMeta, SubsetDataset, register_dataset
from swift.dataset.preprocessor import AutoPreprocessor, RowPreprocessor

from .. import DATA_DIR

CAULDRON = json.loads((DATA_DIR / 'the_cauldron.json').read_text())


def keep_images_encoded(dataset):
    feature = (dataset.features or {}).get('images')
    if isinstance(feature, List) and isinstance(feature.feature, Image) and feature.feature.decode:
        dataset = dataset.cast_column('images', List(Image(decode=False)))
    return dataset


class EncodedImagesAutoPreprocessor(AutoPreprocessor):

    def __call__(self, dataset, **kwargs):
        return super().__call__(keep_images_encoded(dataset), **kwargs)


class CauldronPreprocessor(RowPreprocessor):

    def __call__(self, dataset, **kwargs):
        if 'texts' not in (dataset.features or {}):
            return EncodedImagesAutoPreprocessor()(dataset, **kwargs)
        return super().__call__(keep_images_encoded(dataset), **kwargs)

    def preprocess(self, row: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        turns = [t for t in row['texts'] or [] if t.get('user') and t.get('assistant')]
        if not turns:
            return None
        images = row.get('images') or []
        messages = []
        for i, turn in enumerate(turns):
            question = ('<image>' * len(images) if i == 0 else '') + turn['user']
            messages += [{'role': 'user', 'content': question}, {'role': 'assistant', 'content': turn['assistant']}]
        return {'messages': messages, 'images': images}


def register() -> None:
    register_dataset(DatasetMeta(
        ms_dataset_id=CAULDRON['ms_dataset_id'], hf_dataset_id=CAULDRON['hf_dataset_id'],
        subsets=[SubsetDataset(name) for name in CAULDRON['subsets']], preprocess_func=CauldronPreprocessor(),
        tags=['multi-modal', 'en', 'vqa']), exist_ok=True)
    for name in CAULDRON['subsets']:  # found by a local folder's name: DATASET=/somewhere/cocoqa
        register_dataset(DatasetMeta(dataset_path=f'the_cauldron/{name}', preprocess_func=CauldronPreprocessor(),
                                     tags=['multi-modal', 'en', 'vqa']), exist_ok=True)
    llava_zh = dict(preprocess_func=EncodedImagesAutoPreprocessor(), tags=['multi-modal', 'zh', 'en', 'vqa'])
    register_dataset(DatasetMeta(hf_dataset_id='BUAADreamer/llava-en-zh-300k', subsets=['zh', 'en'], **llava_zh),
                     exist_ok=True)
    for name in ('zh', 'en'):  # its local subset folders
        register_dataset(DatasetMeta(dataset_path=f'llava-en-zh-300k/{name}', **llava_zh), exist_ok=True)
