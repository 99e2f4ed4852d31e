// The page (index.html): load an exported folder with transformers.js in WASM, pick a picture, ask, see the answer
// and its boxes. ?model=PATH on this server (default: the checkout's runs/onnx), ?dtype=int8|fp32|q4|fp16 (default
// int8), ?max_new_tokens=64, ?min_new_tokens=0 (a benchmark's fixed count), ?autoload=0 (wait for the Load button).
import { DTYPES, RawImage, answer, env, loadSplice } from './smvl.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const DISPLAY_EDGE = 512; // small pictures are drawn enlarged to about this, so boxes can be seen
const WASM = new URL('./node_modules/onnxruntime-web/dist/', import.meta.url).href;

// onnxruntime-web's WASM from this server (transformers.js would fetch it from a CDN); threads need a
// cross-origin-isolated page, which a plain static server does not make
env.backends.onnx.wasm.wasmPaths = {
  mjs: `${WASM}ort-wasm-simd-threaded.asyncify.mjs`, wasm: `${WASM}ort-wasm-simd-threaded.asyncify.wasm`,
};
env.backends.onnx.wasm.numThreads = globalThis.crossOriginIsolated ? navigator.hardwareConcurrency : 1;
env.useBrowserCache = false; // the files come from a local server; a second copy in Cache Storage only costs memory

// what a test or the bench reads back
const state = { vlm: null, image: null, picking: null, loadSeconds: null, result: null, error: null,
  threads: env.backends.onnx.wasm.numThreads };
globalThis.smvl = state;

function status(text, kind = 'busy') {
  if (kind === 'busy' && state.error) return; // late progress events do not hide a failure
  $('status').textContent = text;
  $('status').dataset.state = kind;
}

function failed(error) {
  state.error = String(error?.message ?? error);
  status(`error: ${state.error}`, 'error');
  $('answer').dataset.state = 'error';
  console.error(error);
}

async function load() {
  $('ask').disabled = true;
  state.vlm = null;
  state.error = null;
  const folder = $('model').value.trim();
  const dtype = $('dtype').value;
  status(`loading ${folder} (${dtype})…`);
  const start = performance.now();
  const loaded = new Set();
  try {
    state.vlm = await loadSplice(folder, {
      dtype, device: 'wasm',
      progress_callback: (p) => {
        if (p.status === 'done') loaded.add(p.file);
        if (p.status === 'progress') status(`loading ${p.file}: ${Math.round(p.progress)}%`);
      },
    });
  } catch (error) {
    failed(error);
    return;
  }
  state.loadSeconds = (performance.now() - start) / 1000;
  status(`ready: ${folder} (${dtype}), loaded in ${state.loadSeconds.toFixed(1)} s`, 'ready');
  $('ask').disabled = false;
}

function draw(image, boxes = []) {
  const scale = Math.max(1, Math.floor(DISPLAY_EDGE / Math.max(image.width, image.height)));
  const canvas = $('picture');
  canvas.width = image.width * scale;
  canvas.height = image.height * scale;
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(image.toCanvas(), 0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = 'red';
  ctx.fillStyle = 'red';
  ctx.lineWidth = 3;
  ctx.font = '18px "WenQuanYi Micro Hei", sans-serif';
  for (const box of boxes) { // thousandths of the picture's width and height
    const [x1, y1, x2, y2] = [box.x1 * canvas.width, box.y1 * canvas.height, box.x2 * canvas.width,
      box.y2 * canvas.height].map((v) => v / 1000);
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    if (box.ref) ctx.fillText(box.ref, x1 + 4, Math.max(18, y1 - 6));
  }
}

async function pick() {
  const file = $('image').files[0];
  if (!file) return;
  try {
    state.image = await RawImage.fromBlob(file);
  } catch (error) {
    failed(new Error(`${file.name}: not a readable image`));
    return;
  }
  draw(state.image);
}

async function ask() {
  await state.picking; // a picture chosen just before the click is still being decoded
  if (!state.vlm || !state.image) {
    failed(new Error(state.vlm ? 'pick a picture first' : 'load a model first'));
    return;
  }
  $('ask').disabled = true;
  $('answer').dataset.state = 'busy';
  $('answer').textContent = '…';
  try {
    const result = await answer(state.vlm, state.image, $('question').value, {
      maxNewTokens: Number(params.get('max_new_tokens') ?? 64), minNewTokens: Number(params.get('min_new_tokens') ?? 0),
    });
    state.result = result;
    draw(state.image, result.boxes);
    $('answer').textContent = result.shown;
    $('answer').dataset.tokens = JSON.stringify(result.tokens);
    $('answer').dataset.state = 'done';
    const speed = result.tokensPerSecond ? `, ${result.tokensPerSecond.toFixed(1)} tokens/s after it` : '';
    $('timings').textContent = `${result.tokens.length} tokens; first token ${result.seconds.firstToken.toFixed(2)} s` +
      `${speed}; ${result.promptTokens} prompt tokens`;
  } catch (error) {
    failed(error);
  } finally {
    $('ask').disabled = false;
  }
}

$('model').value = params.get('model') ?? '../runs/onnx';
const dtype = params.get('dtype') ?? 'int8';
if (!DTYPES.includes(dtype)) failed(new Error(`unknown dtype ${dtype}; choose from ${DTYPES.join(', ')}`));
else $('dtype').value = dtype;
// transformers.js lets some failures escape its promises (a file too big for an ArrayBuffer: the load never ends)
globalThis.addEventListener('error', (event) => failed(event.error ?? event.message));
globalThis.addEventListener('unhandledrejection', (event) => failed(event.reason));
$('load').addEventListener('click', load);
$('image').addEventListener('change', () => { state.picking = pick(); });
$('ask').addEventListener('click', ask);
if (params.get('autoload') !== '0' && DTYPES.includes(dtype)) load();
