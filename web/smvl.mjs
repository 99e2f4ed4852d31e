// A folder written by tools/export_onnx.py, run by stock transformers.js (Node or browser): picture + question ->
// greedy answer, with the splice's token strings and the recipes' image policy, both read from the folder.
//
//   const vlm = await loadSplice('runs/onnx', { dtype: 'int8' });
//   const { text, tokens, boxes } = await answer(vlm, await RawImage.read('cat.png'), '图中有什么？');
import { AutoModelForVision2Seq, AutoProcessor, env, RawImage } from '@huggingface/transformers';

export { env, RawImage };
export const DTYPES = ['fp32', 'int8', 'q4', 'fp16'];
export const GRAPHS = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'];
const DTYPE_SUFFIX = { fp32: '', int8: '_int8', q4: '_q4', fp16: '_fp16' };
const APP_FILE = 'smvl_app.json'; // written by qwen3_smvl/export/transformers_js.py
const IS_NODE = typeof process !== 'undefined' && Boolean(process.versions?.node);

env.allowRemoteModels = false; // a folder on disk or on the page's own server, never the hub
env.allowLocalModels = true;

/** Bad input, named in one line: the CLI prints the message alone. */
export class SpliceError extends Error {}

async function nodePath() {
  return import('node:path');
}

/**
 * The folder as transformers.js must see it, so never a hub id: an absolute path in Node; in a browser the absolute
 * path on the page's own server (transformers.js takes a full URL for a remote file, which a local load refuses).
 */
async function absolute(folder) {
  if (IS_NODE) return (await nodePath()).resolve(folder);
  return new URL(folder, globalThis.location.href).pathname.replace(/\/$/, '');
}

async function exists(folder, name) {
  if (IS_NODE) {
    const { access } = await import('node:fs/promises');
    return access((await nodePath()).join(folder, name)).then(() => true, () => false);
  }
  const response = await fetch(`${folder}/${name}`, { method: 'HEAD' });
  return response.ok;
}

async function readJSON(folder, name) {
  if (!(await exists(folder, name))) {
    throw new SpliceError(`${folder}: no ${name} (export the checkpoint with tools/export_onnx.py; a folder written ` +
      `before transformers.js support needs exporting again)`);
  }
  if (IS_NODE) {
    const { readFile } = await import('node:fs/promises');
    return JSON.parse(await readFile((await nodePath()).join(folder, name), 'utf8'));
  }
  return (await fetch(`${folder}/${name}`)).json();
}

/** The vocabulary's id of a token string, or an error naming it (a string missing from the vocab would split). */
function tokenId(tokenizer, token) {
  const vocab = tokenizer.get_vocab();
  const id = vocab instanceof Map ? vocab.get(token) : vocab[token];
  if (id === undefined) throw new SpliceError(`the tokenizer has no token ${token}: not a Qwen3-SmVL splice?`);
  return id;
}

/** Tell transformers.js' Idefics3/SmolVLM processor the splice's image tokens (it hard-codes SmolVLM's own). */
function useSpliceTokens(processor, tokens) {
  for (const name of ['image_token', 'fake_image_token', 'global_image_token']) tokenId(processor.tokenizer, tokens[name]);
  processor.image_token = tokens.image_token;
  processor.fake_image_token = tokens.fake_image_token;
  processor.global_img_token = tokens.global_image_token;
}

/** The recipes' image policy (smvl_app.json): upscale true resizes every picture to longest_edge (SmolVLM2's, the
 * default); false: encode shrinks larger pictures (fitWithin) and the processor only tiles. */
function useImagePolicy(processor, images) {
  processor.image_processor.do_resize = images.upscale; // true: SmolVLM2's resize of every picture to longest_edge
}

/** The processor of an exported folder, told the splice's tokens and image policy; `model` is null until loadSplice. */
export async function loadProcessor(folder) {
  const root = await absolute(folder);
  const settings = await readJSON(root, APP_FILE);
  const generation = await readJSON(root, 'generation_config.json');
  const processor = await AutoProcessor.from_pretrained(root);
  useSpliceTokens(processor, settings.tokens);
  useImagePolicy(processor, settings.images);
  return { folder: root, processor, model: null, settings, eos: [generation.eos_token_id].flat() };
}

/**
 * Load an exported folder. dtype picks the graph files (fp32: GRAPH.onnx, int8: GRAPH_int8.onnx, ...);
 * device: transformers.js' ('cpu' in Node, 'wasm' in a browser by default).
 */
export async function loadSplice(folder, { dtype = 'fp32', device, progress_callback } = {}) {
  if (!DTYPES.includes(dtype)) throw new SpliceError(`unknown dtype ${dtype}; choose from ${DTYPES.join(', ')}`);
  const vlm = await loadProcessor(folder);
  for (const graph of GRAPHS) {
    const file = `onnx/${graph}${DTYPE_SUFFIX[dtype]}.onnx`;
    if (!(await exists(vlm.folder, file))) {
      const how = dtype === 'fp32' ? 'tools/export_onnx.py writes it' : `tools/export_onnx.py --quantize ${dtype} writes it`;
      throw new SpliceError(`${vlm.folder}: no ${file} (${how})`);
    }
  }
  vlm.model = await AutoModelForVision2Seq.from_pretrained(vlm.folder, {
    dtype, ...(device ? { device } : {}), ...(progress_callback ? { progress_callback } : {}),
  });
  return { ...vlm, dtype };
}

/** Python's round(): halves to even, so a shrunk size (and so the tiles) equal qwen3_smvl.images.fit_within's. */
function roundHalfEven(x) {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest !== 0.5) return Math.round(x);
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Shrink so that the longest side is at most longestEdge; never upscale (recipes' SMVL_UPSCALE=false). */
export async function fitWithin(image, longestEdge) {
  const scale = longestEdge / Math.max(image.width, image.height);
  if (scale >= 1) return image;
  const width = Math.max(1, roundHalfEven(image.width * scale));
  const height = Math.max(1, roundHalfEven(image.height * scale));
  return image.resize(width, height, { resample: 'lanczos' }); // PIL's LANCZOS in fit_within; sharp's lanczos3 in Node
}

/** The processor's inputs for one user turn with one picture (thinking off), as the Python reference builds them. */
export async function encode(vlm, image, question) {
  const { upscale, longest_edge: longestEdge } = vlm.settings.images;
  const picture = upscale ? image.rgb() : await fitWithin(image.rgb(), longestEdge);
  const messages = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] }];
  const prompt = vlm.processor.apply_chat_template(messages, { add_generation_prompt: true, enable_thinking: false });
  return vlm.processor(prompt, [picture]);
}

/** Boxes in Qwen's format (qwen3_smvl/grounding.py): {ref, x1, y1, x2, y2} in thousandths, clipped, ordered. */
export function parseBoxes(text, tokens) {
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const number = '\\s*(-?\\d+(?:\\.\\d+)?)\\s*';
  const spans = new RegExp(`${escape(tokens.object_ref_start)}(.*?)${escape(tokens.object_ref_end)}` +
    `|${escape(tokens.box_start)}\\s*\\(${number},${number}\\)\\s*,\\s*\\(${number},${number}\\)\\s*` +
    `${escape(tokens.box_end)}`, 'gs');
  const boxes = [];
  let ref = null;
  for (const match of text.matchAll(spans)) {
    if (match[1] !== undefined) {
      ref = match[1].trim() || null;
      continue;
    }
    const [x1, y1, x2, y2] = match.slice(2, 6).map((v) => Math.min(1000, Math.max(0, Math.round(Number(v)))));
    boxes.push({ ref, x1: Math.min(x1, x2), y1: Math.min(y1, y2), x2: Math.max(x1, x2), y2: Math.max(y1, y2) });
  }
  return boxes;
}

/** The answer as a person reads it: ref and box tokens dropped, the coordinates kept. */
export function shownText(text, tokens) {
  let shown = text;
  for (const name of ['object_ref_start', 'object_ref_end', 'box_start', 'box_end']) {
    shown = shown.replaceAll(tokens[name], name === 'object_ref_end' ? ' ' : '');
  }
  return shown.trim();
}

/**
 * Greedy answer to `question` about `image` (a RawImage). Returns the answer's token ids (up to, not including, an
 * end-of-turn token), its text with the special tokens kept (boxes), the boxes, and timings in seconds.
 * minNewTokens holds the end-of-turn tokens back that long (a benchmark's fixed count on random weights).
 */
export async function answer(vlm, image, question, { maxNewTokens = 64, minNewTokens = 0 } = {}) {
  const start = performance.now();
  const inputs = await encode(vlm, image, question);
  const promptLength = inputs.input_ids.dims.at(-1);
  const stamps = [];
  const streamer = { put: () => stamps.push(performance.now()), end: () => {} }; // put 0: the prompt; then a token each
  const output = await vlm.model.generate({
    ...inputs, do_sample: false, max_new_tokens: maxNewTokens, min_new_tokens: minNewTokens, eos_token_id: vlm.eos,
    streamer,
  });
  const generated = output.tolist()[0].slice(promptLength).map(Number);
  const end = generated.findIndex((id) => vlm.eos.includes(id));
  const tokens = end < 0 ? generated : generated.slice(0, end);
  const text = vlm.processor.tokenizer.decode(tokens, { skip_special_tokens: false });
  const firstToken = (stamps[1] ?? performance.now()) - start;
  const decodeSteps = stamps.length - 2; // tokens after the first, each one decoder step
  const decodeSeconds = (stamps.at(-1) - stamps[1]) / 1000;
  return {
    tokens, text, shown: shownText(text, vlm.settings.tokens), boxes: parseBoxes(text, vlm.settings.tokens),
    promptTokens: promptLength,
    seconds: { firstToken: firstToken / 1000, total: (performance.now() - start) / 1000 },
    tokensPerSecond: decodeSteps > 0 && decodeSeconds > 0 ? decodeSteps / decodeSeconds : null,
  };
}
