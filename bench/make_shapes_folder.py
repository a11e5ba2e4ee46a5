#!/usr/bin/python3
"""Writes a small 3-class RGB image folder for `lopper train --dataset imagefolder` checks: discs, squares and
crosses of random colour, size and position on a noisy background, images of 34 to 48 pixels a side (so they need
--resize/--crop), one in ten stored as RGBA. Standard library only (zlib PNG writer); seeded, so the bytes repeat.

usage: make_shapes_folder.py OUT [TRAIN_PER_CLASS=300] [VAL_PER_CLASS=60] [SEED=1]
"""
import pathlib, random, struct, sys, zlib

CLASSES = ["cross", "disc", "square"]


def png(width, height, rows, channels):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    colour_type = {3: 2, 4: 6}[channels]
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def image(rng, cls):
    w, h = rng.randint(34, 48), rng.randint(34, 48)
    colour = [rng.randint(60, 255) for _ in range(3)]
    cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h
    r = rng.uniform(0.2, 0.32) * min(w, h)
    channels = 4 if rng.random() < 0.1 else 3
    rows = []
    for y in range(h):
        row = []
        for x in range(w):
            dx, dy = x - cx, y - cy
            if cls == "disc":
                inside = dx * dx + dy * dy <= r * r
            elif cls == "square":
                inside = abs(dx) <= r * 0.9 and abs(dy) <= r * 0.9
            else:
                inside = (abs(dx) <= r * 0.3 and abs(dy) <= r * 1.1) or (abs(dy) <= r * 0.3 and abs(dx) <= r * 1.1)
            px = colour if inside else [rng.randint(0, 70) for _ in range(3)]
            row += px + ([255] if channels == 4 else [])
        rows.append(row)
    return png(w, h, rows, channels)


def main():
    out = pathlib.Path(sys.argv[1])
    n_train = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    n_val = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    index = 0
    for split, n in (("train", n_train), ("val", n_val)):
        for cls in CLASSES:
            (out / split / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n * len(CLASSES)):
            cls = CLASSES[i % len(CLASSES)]
            (out / split / cls / f"{index:06d}.png").write_bytes(image(rng, cls))
            index += 1


if __name__ == "__main__":
    main()
