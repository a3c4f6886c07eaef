"""Model definitions of the spoken-VQA workload. Export conventions (also written to models.json):
image: image f32 [N,3,64,64] -> features f32 [N,F]; downscaling for cheap variants happens in the graph.
asr:   audio f32 [N,T] zero-padded + lengths i64 [N] -> logits f32 [N,T',C] + out_lengths i64 [N];
       log-mel front end inside the graph; every layer masks frames past the item's length, so batched
       outputs equal unbatched ones.
vqa:   features f32 [N,F] + question i64 [N,QLEN] -> scores f32 [N,A]."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import VOCAB, QLEN, COUNT_GROUPS, MAX_COUNT

FEATURES = 128
IMAGE_VARIANTS = {
    # name: (input downscale factor, widths of stem/stage1/stage2/stage3, stem stride)
    # Widths are multiples of 8: ONNX Runtime's blocked convolutions (NCHWc) run several times slower on
    # other widths (12/24/48 made a 32-px model slower than the 64-px one). Measured on the 2-core box,
    # 1 thread, batch 1: res16 0.10 ms, res32 0.20 ms, res64 0.62 ms, so each step up costs 2-3x.
    "res16": (4, (8, 8, 16, 32), 1),
    "res32": (2, (8, 8, 16, 32), 1),
    "res64": (1, (16, 24, 48, 96), 2),  # a learned stride-2 stem sees every full-resolution pixel
}
ASR_VARIANTS = {
    # name: (channels, residual blocks, kernel)
    "ctc-small": (96, 3, 5),
    "ctc-large": (160, 5, 5),
}


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.skip is None else self.skip(x)))


class ImageNet(nn.Module):
    """ResNet-style feature extractor; variants differ by input resolution and width."""

    def __init__(self, variant):
        super().__init__()
        self.down, (w0, w1, w2, w3), stem_stride = IMAGE_VARIANTS[variant]
        self.stem = nn.Sequential(nn.Conv2d(3, w0, 3, stem_stride, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU())
        self.stages = nn.Sequential(Block(w0, w1, 1), Block(w1, w2, 2), Block(w2, w3, 2))
        self.fc = nn.Linear(w3, FEATURES)

    def forward(self, image):
        x = image
        if self.down > 1:
            x = F.avg_pool2d(x, self.down)
        x = self.stages(self.stem(x))
        return F.relu(self.fc(x.mean(dim=(2, 3))))


class VQAHead(nn.Module):
    """Fuses image features and question tokens (sum and product of projections) into answer scores."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(len(VOCAB["question_words"]), 32)
        self.q = nn.Sequential(nn.Linear(QLEN * 32, 128), nn.ReLU(), nn.Linear(128, 128))
        self.f = nn.Linear(FEATURES, 128)
        self.out = nn.Sequential(nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, len(VOCAB["answers"])))

    def forward(self, features, question):
        q = self.q(self.embed(question).flatten(1))
        f = self.f(features)
        return self.out(torch.cat([q * f, q + f], dim=1))


class CountHead(nn.Module):
    """Training-only auxiliary head: predicts the count of every (colour, shape) pair, shape and colour."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(FEATURES, COUNT_GROUPS * (MAX_COUNT + 1))

    def forward(self, features):
        return self.fc(features).view(-1, COUNT_GROUPS, MAX_COUNT + 1)


# ---- speech -----------------------------------------------------------------------------------------
N_FFT, HOP, N_MELS, RATE = 400, 160, 40, 16000


def mel_filterbank():
    def hz2mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel2hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    bins = N_FFT // 2 + 1
    freqs = np.linspace(0, RATE / 2, bins)
    pts = mel2hz(np.linspace(hz2mel(20.0), hz2mel(RATE / 2), N_MELS + 2))
    fb = np.zeros((N_MELS, bins), dtype=np.float32)
    for m in range(N_MELS):
        lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
        fb[m] = np.maximum(0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)))
    return fb


def frame_count(lengths):
    return torch.clamp(torch.div(lengths - N_FFT, HOP, rounding_mode="floor") + 1, min=0)


def time_mask(lengths, t):
    return (torch.arange(t, device=lengths.device)[None, :] < lengths[:, None]).to(torch.float32)[:, None, :]


class LogMel(nn.Module):
    """STFT as a fixed Conv1d (torch.stft does not export), power, mel, log, per-utterance mean/var
    normalisation over the valid frames. Returns [N, N_MELS, frames] with frames past the length zeroed."""

    def __init__(self):
        super().__init__()
        n = np.arange(N_FFT)
        win = 0.5 - 0.5 * np.cos(2 * math.pi * n / N_FFT)
        k = np.arange(N_FFT // 2 + 1)[:, None]
        cos = win * np.cos(2 * math.pi * k * n / N_FFT)
        sin = -win * np.sin(2 * math.pi * k * n / N_FFT)
        self.register_buffer("kernel", torch.tensor(np.concatenate([cos, sin])[:, None, :], dtype=torch.float32))
        self.register_buffer("mel", torch.tensor(mel_filterbank()))

    def forward(self, audio, lengths):
        spec = F.conv1d(audio[:, None, :], self.kernel, stride=HOP)
        half = N_FFT // 2 + 1
        power = spec[:, :half] ** 2 + spec[:, half:] ** 2
        x = torch.log(torch.matmul(self.mel, power) + 1e-6)
        frames = frame_count(lengths)
        m = time_mask(frames, x.shape[2])
        nf = torch.clamp(frames, min=1).to(torch.float32)[:, None, None]
        mean = (x * m).sum(dim=2, keepdim=True) / nf
        var = (((x - mean) * m) ** 2).sum(dim=2, keepdim=True) / nf
        return (x - mean) / torch.sqrt(var + 1e-5) * m, frames


class ResBlock1d(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.c1 = nn.Conv1d(c, c, k, padding=k // 2)
        self.b1 = nn.BatchNorm1d(c)
        self.c2 = nn.Conv1d(c, c, k, padding=k // 2)
        self.b2 = nn.BatchNorm1d(c)

    def forward(self, x, m):
        y = F.relu(self.b1(self.c1(x))) * m
        y = self.b2(self.c2(y))
        return F.relu(x + y) * m


class CTCNet(nn.Module):
    """Convolutional CTC recogniser over masked log-mel features; 20 ms per output frame."""

    def __init__(self, variant):
        super().__init__()
        c, blocks, k = ASR_VARIANTS[variant]
        self.front = LogMel()
        self.inp = nn.Conv1d(N_MELS, c, 5, stride=2, padding=2)
        self.bn = nn.BatchNorm1d(c)
        self.blocks = nn.ModuleList([ResBlock1d(c, k) for _ in range(blocks)])
        self.out = nn.Conv1d(c, len(VOCAB["asr_chars"]), 1)

    def encode(self, feats, frames):
        """feats: [N, N_MELS, frames] (already masked). Returns logits [N, T', C] and out_lengths."""
        out_len = torch.div(frames + 2 * 2 - 5, 2, rounding_mode="floor") + 1
        out_len = torch.where(frames > 0, out_len, torch.zeros_like(out_len))
        x = self.inp(feats)
        m = time_mask(out_len, x.shape[2])
        x = F.relu(self.bn(x)) * m
        for b in self.blocks:
            x = b(x, m)
        return self.out(x).transpose(1, 2), out_len

    def forward(self, audio, lengths):
        feats, frames = self.front(audio, lengths)
        return self.encode(feats, frames)
