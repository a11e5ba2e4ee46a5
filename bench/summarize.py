#!/usr/bin/env python3
"""Markdown tables for docs/results.md from a folder of run records.

Usage: bench/summarize.py bench/results/2026-12-02

The folder holds, per run NAME, what `lopper ... --json` printed (NAME.json), the run's run.json for
training runs (NAME.run.json) and, where measured on a quiet machine afterwards, `lopper latency`
output (lat-NAME.json). Every figure printed comes from those files.
"""
import json, os, sys

D = sys.argv[1] if len(sys.argv) > 1 else "."


def load(name):
    p = os.path.join(D, name)
    return json.load(open(p)) if os.path.exists(p) else None


def pct(x):
    return f"{x * 100:.2f}%"


def latency(name, rec):
    q = load(f"lat-{name}.json")
    if q:
        r = q["results"][0]
        return f"{r['dense']['median_ms']:.1f} to {r['compacted']['median_ms']:.1f} ms ({r['speedup']:.2f}x)"
    return f"{rec['latency_ms_before']:.1f} to {rec['latency_ms_after']:.1f} ms (busy machine)"


def prune_rows(names):
    out = ["| run | method | MACs kept | params kept | accuracy before / pruned / fine-tuned | latency, batch 128 | prune seconds |",
           "|---|---|---|---|---|---|---|"]
    for name in names:
        r = load(f"{name}.json")
        if r is None or "accuracy_before" not in r:
            out.append(f"| {name} | not run | | | | | |")
            continue
        out.append(f"| {name} | {r['method']} | {r['macs_after'] / r['macs_before'] * 100:.1f}% | {r['params_after'] / r['params_before'] * 100:.1f}% | "
                   f"{pct(r['accuracy_before'])} / {pct(r['accuracy_pruned'])} / {pct(r['accuracy_finetuned'])} | {latency(name, r)} | {r['seconds']['prune']:.0f} |")
    return out


def grda_rows(model):
    out = [f"| {model} | test accuracy | vs SGD | sparsity (all params) | ‖w‖₂/‖w‖₁ | compacted params / MACs kept |", "|---|---|---|---|---|---|"]
    base = None
    for v in ["sgd", "mu0.51", "mu0.55", "mu0.6", "mu0.7"]:
        run = load(f"grda-{model}-{v}.run.json")
        res = load(f"grda-{model}-{v}.json")
        if run is None:
            out.append(f"| {v} | not run | | | | |")
            continue
        last = run["history"][-1]
        acc = last["test_accuracy"]
        if v == "sgd":
            base = acc
        g = (res or {}).get("grda", {})
        kept = f"{g['params_kept'] * 100:.1f}% / {g['macs_kept'] * 100:.1f}%" if g else "100% / 100%"
        label = "SGD (no momentum)" if v == "sgd" else "gRDA μ=" + v[2:]
        ratio = f"{last['l2_over_l1']:.2e}" if "l2_over_l1" in last else "not recorded"

        out.append(f"| {label} | {pct(acc)} | {(acc - base) * 100:+.2f} | {last.get('sparsity', 0) * 100:.1f}% | {ratio} | {kept} |")
    return out


def blocks(ca):
    b = ca.get("removed_blocks")
    if b is None:
        return "-"
    return f"{len(b)}" + (f" ({', '.join(str(x) for x in b)})" if b else "")


def ca_rows(names, dense_name="ca-dense"):
    out = ["| run | strength | final accuracy | vs dense | MACs kept | params kept | units / blocks removed | epoch seconds first → last |",
           "|---|---|---|---|---|---|---|---|"]
    dense = load(f"{dense_name}.run.json")
    for name in names:
        run = load(f"{name}.run.json")
        res = load(f"{name}.json")
        if run is None:
            out.append(f"| {name} | not run | | | | | | |")
            continue
        h = run["history"]
        ca = (res or {}).get("complexity_aware", {})
        # A run of another seed is compared with the dense run of that seed when there is one.
        seed = name.rsplit("-seed", 1)[1] if "-seed" in name else None
        ref = load(f"{dense_name}-seed{seed}.run.json") if seed and seed != "0" and load(f"{dense_name}-seed{seed}.run.json") else dense
        delta = f"{(h[-1]['test_accuracy'] - ref['history'][-1]['test_accuracy']) * 100:+.2f}" if ref else ""
        macs0 = dense["history"][-1].get("macs") if dense else None
        first, last = h[0]["train_seconds"], h[-1]["train_seconds"]
        strength = run.get("complexity_aware", {}).get("strength", ca.get("strength", "dense"))
        macs_kept = (res or {}).get("macs")
        params_kept = (res or {}).get("params")
        dres = load(f"{dense_name}.json")
        mk = f"{macs_kept / dres['macs'] * 100:.1f}%" if dres and macs_kept else ""
        pk = f"{params_kept / dres['params'] * 100:.1f}%" if dres and params_kept else ""
        out.append(f"| {name} | {strength} | {pct(h[-1]['test_accuracy'])} | {delta} | {mk} | {pk} | {ca.get('removed_units', '-')} / {blocks(ca)} | {first:.0f} → {last:.0f} |")
    return out


def knob_rows():
    out = ["| knobs (strength 1, 1 epoch, 10,000 images) | MACs kept | params kept | units removed | blocks removed | accuracy |", "|---|---|---|---|---|---|"]
    for name, label in [("knob-mid", "P 0.5, B 0.5"), ("knob-p0", "P 0 (parameters only)"), ("knob-p1", "P 1 (MACs only)"),
                        ("knob-b0", "B 0 (units only)"), ("knob-b1", "B 1 (blocks only)")]:
        res = load(f"{name}.json")
        if res is None:
            out.append(f"| {label} | not run | | | | |")
            continue
        ca = res["complexity_aware"]
        out.append(f"| {label} | {ca['macs_kept'] * 100:.1f}% | {ca['params_kept'] * 100:.1f}% | {ca['removed_units']} | {blocks(ca)} | {pct(res['test_accuracy'])} |")
    return out


def misc_lines():
    out = []
    e = load("snacs-est-200.json")
    if e:
        out.append(f"- SNACS estimator vs MINT's on one {e['in']}x{e['out']} layer pair, {e['groups']}x{e['groups']} groups, {e['probe_per_class']} images per class "
                   f"(N = {e['samples']}, {e['calls']} calls, {e['threads']} thread): hash {e['hash_seconds']:.2f} s, MINT {e['mint_seconds']:.2f} s, "
                   f"ratio **{e['ratio_mint_over_snacs']:.1f}x** (`lopper bench snacs-estimator --probe-per-class {e['probe_per_class']} --groups {e['groups']}`).")
    lp = load("losspath-vgg.json")
    if lp:
        out.append(f"- Loss along the straight line from the SGD to the gRDA (μ 0.55) vgg-small minimum ({len(lp['points'])} points, {lp['samples']} training images, "
                   f"batch-norm statistics re-estimated per point): {lp['loss_a']:.3f} → max {lp['max_loss']:.3f} → {lp['loss_b']:.3f}, barrier {lp['barrier']:.3f}, "
                   f"distance {lp['endpoint_distance']:.1f} (`lopper losspath`).")
    for m in ["resnet20", "vgg-small"]:
        a, b = load(f"t-{m}-sgd.json"), load(f"t-{m}-grda.json")
        if a and b:
            out.append(f"- Seconds per epoch, quiet machine, 2 threads, 6,000 images, one epoch, {m}: SGD {a['seconds_per_epoch']:.1f}, gRDA {b['seconds_per_epoch']:.1f}: "
                       f"gRDA / SGD = **{b['seconds_per_epoch'] / a['seconds_per_epoch']:.2f}**.")
    return out


if __name__ == "__main__":
    section = sys.argv[2] if len(sys.argv) > 2 else "all"
    if section in ("all", "grda"):
        for m in ["vgg-small", "resnet20"]:
            print("\n".join(grda_rows(m)), "\n")
    if section in ("all", "prune"):
        print("\n".join(prune_rows(sys.argv[3:] if len(sys.argv) > 3 else [
            "sr-r20-srinit", "sr-r20-random", "sr-r20-l1", "sr-r32-srinit", "sr-r32-random", "sr-r32-l1", "spp-r20", "spp-l1-r20", "spp-vgg", "spp-l1-vgg",
            "snacs-r20", "snacs-l1-r20", "snacs-vgg", "snacs-l1-vgg", "snacs-l1-vgg-636"])), "\n")
    if section in ("all", "ca"):
        print("\n".join(ca_rows(["ca-dense", "ca-s0.1", "ca-s0.3", "ca-s1"])), "\n")
        print("\n".join(knob_rows()), "\n")
    if section in ("all", "ca10"):
        print("\n".join(ca_rows(["ca10-dense", "ca10-dense-prev-build", "ca10-g1-s0.4", "ca10-g1-s0.5", "ca10-g1-s0.7", "ca10-p1-w1-s0.4", "ca10-p1-h-s0.8",
                                  "ca10-w1-s0.1", "ca10-w1-s0.2", "ca10-dense-seed1", "ca10-g1-s0.3-seed1", "ca10-g1-s0.4-seed1",
                                  "ca10-g1-s0.5-seed1", "ca10-dense-seed2", "ca10-g1-s0.4-seed2", "ca10-g1-s0.5-seed2",
                                  "ca10-g1-s0.5-b0.25-seed0", "ca10-g1-s0.5-b0.25-seed1", "ca10-g1-s0.5-b0.25-seed2"], "ca10-dense")), "\n")
    if section in ("all", "misc"):
        print("\n".join(misc_lines()))
