"""Training recipe of the spoken-VQA workload (CPU, Debian python3-torch). See README.md.

  /usr/bin/python3 workloads/vqa/recipe/train.py --part image --epochs 59,60,70
  /usr/bin/python3 workloads/vqa/recipe/train.py --part asr --epochs 17,15
  /usr/bin/python3 workloads/vqa/recipe/train.py --part finish

Each part trains for a fixed number of epochs per model (cosine learning rate over the steps), keeps the
checkpoint that scores best on the validation split, and exports ONNX (opset 17) into --out."""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (VOCAB, VQA_DIR, ANSWER_ID, PAIRS, QLEN, CHARS, load_manifest, load_image, load_wav,
                    tokenize, encode_chars, pair_counts, encoded_questions, sample_question, normalize)
import models as M

OPSET = 17
QUESTIONS_PER_IMAGE = 4


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def cosine_lr(opt, base, frac):
    for g in opt.param_groups:
        g["lr"] = base * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))


# ---- image + VQA -------------------------------------------------------------------------------------
_cache = {}


def cached(key, fn):
    """Loads data once per process (all variants of a part train on the same data)."""
    if key not in _cache:
        _cache[key] = fn()
    return _cache[key]


def load_split_images(split, data):
    return cached(("images", split, data), lambda: _load_split_images(split, data))


def _load_split_images(split, data):
    items = load_manifest(os.path.join(data, split, "manifest.jsonl"))
    imgs = np.stack([load_image(it["image_path"]) for it in items])
    return items, torch.from_numpy(imgs)


def eval_vqa(net, head, imgs, items, questions=None):
    net.eval(), head.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(items), 256):
            batch = items[i:i + 256]
            qs = [questions[i + j] if questions else it["question"] for j, it in enumerate(batch)]
            q = torch.tensor([tokenize(x) for x in qs])
            pred = head(net(imgs[i:i + len(batch)]), q).argmax(1)
            correct += sum(int(p) == ANSWER_ID[it["answer"]] for p, it in zip(pred.tolist(), batch))
    net.train(), head.train()
    return 100.0 * correct / len(items)


def train_image(variant, epochs, data, out, seed):
    torch.manual_seed(seed)
    rng = random.Random(seed)
    items, imgs = load_split_images("train", data)
    vitems, vimgs = load_split_images("val", data)
    counts = torch.tensor([pair_counts(it["objects"]) for it in items])
    questions = [encoded_questions(it["objects"]) for it in items]
    net, head, aux = M.ImageNet(variant), M.VQAHead(), M.CountHead()
    # channels-last convolutions train 2-3x faster on CPU here (exported in the default layout)
    net = net.to(memory_format=torch.channels_last)
    imgs = imgs.contiguous(memory_format=torch.channels_last)
    params = list(net.parameters()) + list(head.parameters()) + list(aux.parameters())
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-4)
    start, best = time.time(), (-1.0, None)
    n = len(items)
    steps, step = epochs * math.ceil(n / 64), 0
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(n)
        tot = 0.0
        for b in range(0, n, 64):
            cosine_lr(opt, 2e-3, step / steps)
            step += 1
            idx = perm[b:b + 64]
            x = imgs[idx]
            if rng.random() < 0.5:
                x = x.flip(3)  # no question depends on left/right
            x = x.contiguous(memory_format=torch.channels_last)
            # K questions per image: the head is cheap, so every image's features serve several questions
            qa = [sample_question(questions[i], rng) for i in idx.tolist() for _ in range(QUESTIONS_PER_IMAGE)]
            q = torch.tensor([t for t, _ in qa])
            q[(torch.rand(q.shape) < 0.05) & (q > 1)] = 1  # word dropout: robustness to misrecognised words
            y = torch.tensor([a for _, a in qa])
            feats = net(x)
            loss = F.cross_entropy(head(feats.repeat_interleave(QUESTIONS_PER_IMAGE, 0), q), y)
            loss = loss + 0.5 * F.cross_entropy(aux(feats).flatten(0, 1), counts[idx].flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss) * len(idx)
        acc = eval_vqa(net, head, vimgs, vitems)
        log(f"image {variant} epoch {epoch} loss {tot / n:.4f} val_acc {acc:.2f} ({time.time() - start:.0f}s)")
        if acc > best[0]:
            best = (acc, ({k: v.clone() for k, v in net.state_dict().items()},
                          {k: v.clone() for k, v in head.state_dict().items()}))
    net.load_state_dict(best[1][0]), head.load_state_dict(best[1][1])
    net = net.to(memory_format=torch.contiguous_format)
    net.eval(), head.eval()
    torch.save(net, os.path.join(out, f"image_{variant}.pt"))  # for finish.py's reference outputs
    torch.save(head, os.path.join(out, f"vqa_{variant}.pt"))
    export(net, (torch.zeros(2, 3, 64, 64),), ["image"], ["features"], {"image": {0: "N"}, "features": {0: "N"}},
           os.path.join(out, f"image_{variant}.onnx"))
    export(head, (torch.zeros(2, M.FEATURES), torch.zeros(2, QLEN, dtype=torch.long)), ["features", "question"],
           ["scores"], {"features": {0: "N"}, "question": {0: "N"}, "scores": {0: "N"}},
           os.path.join(out, f"vqa_{variant}.onnx"))
    meta = {"variant": variant, "val_accuracy_text_questions": round(best[0], 2), "epochs": epoch,
            "train_seconds": round(time.time() - start), "image_params": nparams(net), "vqa_params": nparams(head)}
    json.dump(meta, open(os.path.join(out, f"image_{variant}.train.json"), "w"), indent=1)
    log(f"image {variant} done: best val acc {best[0]:.2f}")


# ---- speech ------------------------------------------------------------------------------------------
def speech_features(items):
    """Log-mel features of every item (the fixed front end has no weights, so it runs once)."""
    front = M.LogMel()
    feats = []
    with torch.no_grad():
        for it in items:
            a = torch.from_numpy(load_wav(it["audio_path"]))[None]
            f, frames = front(a, torch.tensor([a.shape[1]]))
            feats.append(f[0, :, :int(frames[0])].clone())
    return feats


def pad_batch(feats):
    frames = torch.tensor([f.shape[1] for f in feats])
    x = torch.zeros(len(feats), M.N_MELS, int(frames.max()))
    for i, f in enumerate(feats):
        x[i, :, :f.shape[1]] = f
    return x, frames


def greedy(logits, n):
    best = logits[:n].argmax(1).tolist()
    out, prev = [], -1
    for c in best:
        if c != prev and c != 0:
            out.append(CHARS[c])
        prev = c
    return " ".join("".join(out).split())


def edit_distance(a, b):
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(b)]


def eval_asr(net, feats, items):
    net.eval()
    errs = words = 0
    hyps = []
    with torch.no_grad():
        for i in range(0, len(items), 64):
            x, frames = pad_batch(feats[i:i + 64])
            logits, out_len = net.encode(x, frames)
            for j in range(len(x)):
                hyp = greedy(logits[j], int(out_len[j]))
                ref = normalize(items[i + j]["question"]).split()
                errs += edit_distance(hyp.split(), ref)
                words += len(ref)
                hyps.append(hyp)
    net.train()
    return 100.0 * errs / words, hyps


def spec_augment(x, frames, rng):
    for i in range(len(x)):
        f0 = rng.randrange(M.N_MELS - 6)
        x[i, f0:f0 + rng.randrange(7)] = 0
        t = int(frames[i])
        if t > 20:
            t0 = rng.randrange(t - 10)
            x[i, :, t0:t0 + rng.randrange(11)] = 0
    return x


def train_asr(variant, epochs, data, out, seed):
    torch.manual_seed(seed)
    rng = random.Random(seed)
    items = load_manifest(os.path.join(data, "train", "manifest.jsonl"))
    vitems = load_manifest(os.path.join(data, "val", "manifest.jsonl"))
    t0 = time.time()
    feats = cached(("speech", "train", data), lambda: speech_features(items))
    vfeats = cached(("speech", "val", data), lambda: speech_features(vitems))
    log(f"asr {variant}: features of {len(items)}+{len(vitems)} utterances in {time.time() - t0:.0f}s")
    targets = [torch.tensor(encode_chars(it["question"])) for it in items]
    net = M.CTCNet(variant)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    start, best = time.time(), (1e9, None)
    order = sorted(range(len(items)), key=lambda i: feats[i].shape[1])
    batches = [order[b:b + 32] for b in range(0, len(order), 32)]
    steps, step = epochs * len(batches), 0
    for epoch in range(1, epochs + 1):
        rng.shuffle(batches)
        tot = 0.0
        for idx in batches:
            cosine_lr(opt, 2e-3, step / steps)
            step += 1
            x, frames = pad_batch([feats[i] for i in idx])
            x = spec_augment(x, frames, rng)
            logits, out_len = net.encode(x, frames)
            lp = F.log_softmax(logits, dim=2).transpose(0, 1)
            tg = [targets[i] for i in idx]
            loss = F.ctc_loss(lp, torch.cat(tg), out_len, torch.tensor([len(t) for t in tg]), zero_infinity=True)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            tot += float(loss)
        wer, hyps = eval_asr(net, vfeats, vitems)
        log(f"asr {variant} epoch {epoch} loss {tot / len(batches):.4f} val_wer {wer:.2f} e.g. {hyps[0]!r} ({time.time() - start:.0f}s)")
        if wer < best[0]:
            best = (wer, {k: v.clone() for k, v in net.state_dict().items()})
    net.load_state_dict(best[1])
    net.eval()
    torch.save(net, os.path.join(out, f"asr_{variant}.pt"))  # for finish.py's reference outputs
    export(net, (torch.zeros(2, 32000), torch.tensor([32000, 20000])), ["audio", "lengths"],
           ["logits", "out_lengths"], {"audio": {0: "N", 1: "T"}, "lengths": {0: "N"}, "logits": {0: "N", 1: "T_out"},
                                       "out_lengths": {0: "N"}}, os.path.join(out, f"asr_{variant}.onnx"))
    meta = {"variant": variant, "val_wer": round(best[0], 2), "epochs": epoch,
            "train_seconds": round(time.time() - start), "params": nparams(net)}
    json.dump(meta, open(os.path.join(out, f"asr_{variant}.train.json"), "w"), indent=1)
    log(f"asr {variant} done: best val WER {best[0]:.2f}")


# ---- export ------------------------------------------------------------------------------------------
def nparams(m):
    return sum(p.numel() for p in m.parameters())


def export(model, args, inputs, outputs, axes, path):
    tmp = path + ".tmp"
    torch.onnx.export(model, args, tmp, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                      opset_version=OPSET, do_constant_folding=True)
    os.replace(tmp, path)
    log(f"exported {path} ({os.path.getsize(path) / 1e6:.2f} MB)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=["image", "asr", "finish"], required=True)
    ap.add_argument("--variants", default="", help="comma-separated subset (default: all of the part)")
    # Budgets are epochs, not wall-clock time: a re-run on a slower or busier machine takes longer but
    # trains exactly as much (the cosine schedule runs over the steps), so it reproduces the models.
    ap.add_argument("--epochs", default="", help="comma-separated epochs per variant (default 5 each)")
    ap.add_argument("--data", default=os.path.join(VQA_DIR, "data"))
    ap.add_argument("--out", default=os.path.join(VQA_DIR, "models"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    if a.part == "finish":
        import finish
        finish.main(a.data, a.out)
        return
    names = a.variants.split(",") if a.variants else list(M.IMAGE_VARIANTS if a.part == "image" else M.ASR_VARIANTS)
    epochs = [int(x) for x in a.epochs.split(",")] if a.epochs else [5] * len(names)
    if len(epochs) != len(names):
        ap.error(f"--epochs has {len(epochs)} values for {len(names)} variants ({','.join(names)})")
    for name, e in zip(names, epochs):
        (train_image if a.part == "image" else train_asr)(name, e, a.data, a.out, a.seed)


if __name__ == "__main__":
    main()
