"""Shared data handling for the spoken-VQA training recipe: vocabularies (../vocab.json, the same file the
Go code embeds), manifest/PNG/WAV loading that matches the Go pre-processing, and the question templates
(used to draw many training questions per training image)."""
import json
import os
import random
import wave

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
VQA_DIR = os.path.dirname(HERE)
with open(os.path.join(VQA_DIR, "vocab.json")) as f:
    VOCAB = json.load(f)

WORD_ID = {w: i for i, w in enumerate(VOCAB["question_words"])}
ANSWER_ID = {a: i for i, a in enumerate(VOCAB["answers"])}
CHARS = VOCAB["asr_chars"]
CHAR_ID = {c: i for i, c in enumerate(CHARS)}
QLEN = VOCAB["question_len"]
PAIRS = [(c, s) for c in VOCAB["colors"] for s in VOCAB["shapes"]]
MAX_COUNT = len(VOCAB["numbers"]) - 1


def load_manifest(path):
    items = [json.loads(l) for l in open(path) if l.strip()]
    d = os.path.dirname(path)
    for it in items:
        it["image_path"] = os.path.join(d, it["image"])
        it["audio_path"] = os.path.join(d, it["audio"])
    return sorted(items, key=lambda it: it["id"])


def load_image(path):
    """CHW float32, (v/255 - mean)/std: what vqa.LoadImage returns."""
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32).transpose(2, 0, 1)
    return ((a / 255.0 - VOCAB["image_mean"]) / VOCAB["image_std"]).astype(np.float32)


def load_wav(path):
    """Mono 16 kHz float32 in [-1, 1]: s/32768, as vqa.LoadWAV (our files are 16-bit mono 16 kHz)."""
    with wave.open(path) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def normalize(s):
    out, space = [], False
    for ch in s.lower():
        if "a" <= ch <= "z" or "0" <= ch <= "9" or ch == "'":
            if space and out:
                out.append(" ")
            space = False
            out.append(ch)
        else:
            space = True
    return "".join(out)


def tokenize(q):
    ids = [WORD_ID.get(w, 1) for w in normalize(q).split()][:QLEN]
    return ids + [0] * (QLEN - len(ids))


def encode_chars(text):
    return [CHAR_ID[c] for c in normalize(text)]


COUNT_GROUPS = len(PAIRS) + len(VOCAB["shapes"]) + len(VOCAB["colors"])


def pair_counts(objects):
    """Auxiliary training targets: how many objects of every (colour, shape) pair, every shape and every colour."""
    counts = {p: 0 for p in PAIRS}
    shapes = {s: 0 for s in VOCAB["shapes"]}
    colors = {c: 0 for c in VOCAB["colors"]}
    for o in objects:
        counts[(o["color"], o["shape"])] += 1
        shapes[o["shape"]] += 1
        colors[o["color"]] += 1
    out = [counts[p] for p in PAIRS] + [shapes[s] for s in VOCAB["shapes"]] + [colors[c] for c in VOCAB["colors"]]
    return [min(n, MAX_COUNT) for n in out]


def all_questions(objects):
    """Every well-defined templated question about a scene, grouped by type (mirrors dataset/question.go)."""
    shapes = {s: 0 for s in VOCAB["shapes"]}
    colors = {c: 0 for c in VOCAB["colors"]}
    for o in objects:
        shapes[o["shape"]] += 1
        colors[o["color"]] += 1
    num = VOCAB["numbers"]
    pairs = {(o["color"], o["shape"]) for o in objects}
    qs = {"color": [], "shape": [], "count_shape": [], "count_color": [], "exist_yes": [], "exist_no": []}
    for o in objects:
        if shapes[o["shape"]] == 1:
            qs["color"].append(("what color is the " + o["shape"], o["color"]))
        if colors[o["color"]] == 1:
            qs["shape"].append(("what shape is the " + o["color"] + " object", o["shape"]))
    for s, n in shapes.items():
        qs["count_shape"].append(("how many " + s + "s are there", num[n]))
    for c, n in colors.items():
        qs["count_color"].append(("how many " + c + " objects are there", num[n]))
    for c in VOCAB["colors"]:
        for s in VOCAB["shapes"]:
            key = "exist_yes" if (c, s) in pairs else "exist_no"
            qs[key].append(("is there a %s %s" % (c, s), "yes" if key == "exist_yes" else "no"))
    return {k: v for k, v in qs.items() if v}


def encoded_questions(objects):
    """all_questions with questions tokenised and answers as ids (computed once per training image)."""
    return {k: [(tokenize(q), ANSWER_ID[a]) for q, a in v] for k, v in all_questions(objects).items()}


def sample_question(qs, rng):
    """A random question from all_questions/encoded_questions output, templates weighted as the generator."""
    kinds = list(qs)
    # exist_yes / exist_no together are one template, as in the generator
    weights = [0.5 if k.startswith("exist") else 1.0 for k in kinds]
    k = rng.choices(kinds, weights)[0]
    return rng.choice(qs[k])
