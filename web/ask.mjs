#!/usr/bin/env node
// Answer a question about a picture with an exported folder (tools/export_onnx.py), in Node with transformers.js.
//
//   node web/ask.mjs FOLDER IMAGE QUESTION [--dtype fp32|int8|q4|fp16] [--max-new-tokens N] [--json]
//                    [--min-new-tokens N]   (no end of turn before N tokens: for a benchmark)
//
// Prints the answer (boxes as "ref (x1,y1),(x2,y2)", thousandths of the picture); --json prints one object with the
// token ids, the raw text and timings instead.
import { parseArgs } from 'node:util';

import { DTYPES, RawImage, SpliceError, answer, loadSplice } from './smvl.mjs';

const USAGE = `usage: node web/ask.mjs FOLDER IMAGE QUESTION [--dtype ${DTYPES.join('|')}] [--max-new-tokens N] [--json]`;

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(2);
}

async function readImage(path) {
  try {
    return await RawImage.read(path);
  } catch (error) {
    throw new SpliceError(`${path}: not a readable image (${error.message.split('\n')[0]})`);
  }
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        dtype: { type: 'string', default: 'fp32' },
        'max-new-tokens': { type: 'string', default: '64' },
        'min-new-tokens': { type: 'string', default: '0' },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    fail(`${error.message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 3) fail(USAGE);
  const [folder, imagePath, question] = positionals;
  const [maxNewTokens, minNewTokens] = [Number(values['max-new-tokens']), Number(values['min-new-tokens'])];
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) fail(`--max-new-tokens ${values['max-new-tokens']}: not a positive integer`);
  if (!Number.isInteger(minNewTokens) || minNewTokens < 0) fail(`--min-new-tokens ${values['min-new-tokens']}: not a whole number`);
  try {
    const image = await readImage(imagePath); // before the model: a bad picture costs no load
    const start = performance.now();
    const vlm = await loadSplice(folder, { dtype: values.dtype });
    const loadSeconds = (performance.now() - start) / 1000;
    const result = await answer(vlm, image, question, { maxNewTokens, minNewTokens });
    if (values.json) {
      console.log(JSON.stringify({ ...result, dtype: values.dtype, seconds: { load: loadSeconds, ...result.seconds },
        rssBytes: process.memoryUsage().rss }));
    } else {
      console.log(result.shown);
    }
  } catch (error) {
    if (error instanceof SpliceError) fail(error.message);
    throw error;
  }
}

await main();
