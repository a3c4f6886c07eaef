"""Final step of the recipe: writes models.json (what each shipped ONNX file is, its I/O conventions and
training figures) and the reference outputs that the Go tests compare against (testdata/reference.json,
computed by PyTorch on fixture items copied from the test split)."""
import json
import os
import shutil

import numpy as np
import torch

from common import VOCAB, VQA_DIR, load_manifest, load_image, load_wav, tokenize
import models as M

CONVENTIONS = {
    "image": "input image float32 [N,3,64,64] = (png/255 - image_mean)/image_std, CHW, native resolution "
             "(cheap variants downscale inside the graph); output features float32 [N,%d]" % M.FEATURES,
    "asr": "inputs audio float32 [N,T] mono 16 kHz samples in [-1,1], zero-padded, and lengths int64 [N]; "
           "outputs logits float32 [N,T',C] (C = len(asr_chars), blank = 0) and out_lengths int64 [N]; "
           "decode frames [0,out_lengths) greedily; batched outputs equal unbatched ones",
    "vqa": "inputs features float32 [N,%d] from the image variant named by image_variant and question int64 "
           "[N,%d] (Tokenize); output scores float32 [N,A] over vocab.json answers" % (M.FEATURES, VOCAB["question_len"]),
}
IO = {"image": (["image"], ["features"]), "asr": (["audio", "lengths"], ["logits", "out_lengths"]),
      "vqa": (["features", "question"], ["scores"])}
FIXTURE_IDS = [0, 1, 2]
EXTRA_QUESTIONS = ["what color is the circle", "How many RED objects are there?", "wat colour is teh squar",
                   "is there a blue triangle please tell me now", "", "  shape   "]


def load(path):
    return torch.load(path)


def main(data, out):
    entries = []
    for v in M.IMAGE_VARIANTS:
        t = json.load(open(os.path.join(out, f"image_{v}.train.json")))
        entries.append(entry("image", v, f"image_{v}.onnx", out, t, image_params=t["image_params"]))
        entries.append(entry("vqa", v, f"vqa_{v}.onnx", out, t, image_variant=v))
    for v in M.ASR_VARIANTS:
        t = json.load(open(os.path.join(out, f"asr_{v}.train.json")))
        entries.append(entry("asr", v, f"asr_{v}.onnx", out, t))
    doc = {"comment": "Written by recipe/train.py --part finish. Paths are relative to this directory.",
           "conventions": CONVENTIONS, "image_size": 64, "sample_rate": M.RATE, "features": M.FEATURES,
           "question_len": VOCAB["question_len"], "models": entries}
    with open(os.path.join(out, "models.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    if all(os.path.exists(os.path.join(out, e["file"].replace(".onnx", ".pt"))) for e in entries):
        reference(data, out)
    else:
        print("no PyTorch checkpoints in", out, "- reference outputs not written")


def entry(kind, variant, file, out, t, image_variant=None, image_params=None):
    ins, outs = IO[kind]
    e = {"kind": kind, "variant": variant, "file": file, "inputs": ins, "outputs": outs,
         "bytes": os.path.getsize(os.path.join(out, file)), "train_seconds": t["train_seconds"]}
    if kind == "image":
        down, widths, _ = M.IMAGE_VARIANTS[variant]
        e.update(params=image_params, resolution=64 // down, widths=list(widths))
    if kind == "vqa":
        e.update(image_variant=image_variant, params=t["vqa_params"], val_accuracy_text=t["val_accuracy_text_questions"])
    if kind == "asr":
        c, blocks, k = M.ASR_VARIANTS[variant]
        e.update(params=t["params"], channels=c, blocks=blocks, val_wer=t["val_wer"])
    return e


def r(a):
    return [float("%.7g" % x) for x in np.asarray(a, dtype=np.float64).ravel()]


def reference(data, out):
    """PyTorch outputs of the trained models on fixture items, for the Go tests."""
    tdir = os.path.join(VQA_DIR, "testdata")
    fdir = os.path.join(tdir, "fixtures")
    os.makedirs(fdir, exist_ok=True)
    items = {it["id"]: it for it in load_manifest(os.path.join(data, "test", "manifest.jsonl"))}
    fx = [items[i] for i in FIXTURE_IDS]
    ref = {"items": [], "tokens": {}, "image": {}, "asr": {}}
    imgs, auds = [], []
    for it in fx:
        png, wav = "item%d.png" % it["id"], "item%d.wav" % it["id"]
        shutil.copy(it["image_path"], os.path.join(fdir, png))
        shutil.copy(it["audio_path"], os.path.join(fdir, wav))
        img, aud = load_image(it["image_path"]), load_wav(it["audio_path"])
        imgs.append(img), auds.append(aud)
        ref["items"].append({"id": it["id"], "image": "fixtures/" + png, "audio": "fixtures/" + wav,
                             "question": it["question"], "answer": it["answer"],
                             "image_tensor": r(img), "samples": len(aud), "samples_head": r(aud[:2000]),
                             "samples_sum": float(np.sum(aud.astype(np.float64)))})
    for q in [it["question"] for it in fx] + EXTRA_QUESTIONS:
        ref["tokens"][q] = tokenize(q)
    x = torch.from_numpy(np.stack(imgs))
    qs = torch.tensor([tokenize(it["question"]) for it in fx])
    with torch.no_grad():
        for v in M.IMAGE_VARIANTS:
            import onnx  # noqa: F401  (fails early if python3-onnx is missing)
            net, head = ort_free_load(out, v)
            feats = net(x)
            scores = head(feats, qs)
            ref["image"][v] = {"features": r(feats), "scores": r(scores),
                               "answers": [VOCAB["answers"][i] for i in scores.argmax(1).tolist()]}
        for v in M.ASR_VARIANTS:
            net = torch.load(os.path.join(out, f"asr_{v}.pt"))
            net.eval()
            per = []
            for a in auds:
                logits, ol = net(torch.from_numpy(a)[None], torch.tensor([len(a)]))
                per.append({"frames": int(ol[0]), "classes": logits.shape[2], "logits": r(logits[0, :int(ol[0])])})
            ref["asr"][v] = per
    with open(os.path.join(tdir, "reference.json"), "w") as f:
        json.dump(ref, f)
    print("wrote", os.path.join(tdir, "reference.json"))


def ort_free_load(out, v):
    net, head = torch.load(os.path.join(out, f"image_{v}.pt")), torch.load(os.path.join(out, f"vqa_{v}.pt"))
    net.eval(), head.eval()
    return net, head
