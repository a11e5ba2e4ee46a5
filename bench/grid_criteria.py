#!/usr/bin/env python3
"""Issue #21's acceptance checks, computed from experiment records (never typed by hand).

usage: bench/grid_criteria.py RESULTS_OR_DIR [RESULTS_OR_DIR ...]
  Each argument is a results.json or an experiment folder holding one; cells of all of them are pooled (the side grids
  share the full grid's dense model). Prints, per method label and budget (means over the seeds of finished cells):
  MACs and parameters kept and the distance to the budget, fine-tuned accuracy against the dense model and against L1
  filters (MACs budgets) or magnitude pruning (parameter budgets) at the same budget, speed-up over the MAC reduction, and each control comparison (snacs vs snacs-random, srinit vs
  srinit-random, and any LABEL vs LABEL-random). The speed-up comes from the cells' recorded latencies: run
  `lopper experiment --config ... --remeasure-latency` first where they were taken on a busy machine.
"""
import json
import os
import sys
from collections import OrderedDict


def load(path):
    if os.path.isdir(path):
        path = os.path.join(path, "results.json")
    with open(path) as f:
        return json.load(f)


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def budget_kind(cells):
    """'macs' or 'params' from the cells' budget flag (target-macs, grda-target-params, ...), else None (gRDA's mu)."""
    flag = cells[0].get("budget_flag") or ""
    return "macs" if "macs" in flag else "params" if "params" in flag else None


def fmt(x, digits=2, sign=False):
    if x is None:
        return "-"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def main(args):
    if not args:
        sys.exit(__doc__.strip())
    dense = None
    groups = OrderedDict()
    for a in args:
        r = load(a)
        if dense is None and r.get("baseline"):
            dense = r["baseline"].get("accuracy")
        for c in r["cells"]:
            if c.get("status") != "ok":
                continue
            key = (c["label"], c.get("budget"))
            groups.setdefault(key, []).append(c)

    def stats(cells):
        macs = mean([c["macs_after"] / c["macs_before"] for c in cells if c.get("macs_before")])
        acc = mean([c.get("accuracy_finetuned") for c in cells])
        ratio = mean([c["latency_ms_before"] / c["latency_ms_after"] * c["macs_after"] / c["macs_before"]
                      for c in cells if c.get("latency_ms_after") and c.get("macs_before")])
        # Parameters after count nonzero values (masked or soft-thresholded ones are gone).
        params = mean([c["params_after"] / c["params_before"] for c in cells if c.get("params_before")])
        return macs, acc, ratio, params

    # Each group's means once; the tables below read them, and L1's and the controls' by key.
    summary = {key: stats(cells) for key, cells in groups.items()}

    def accuracy(key):
        return summary[key][1] if key in summary else None

    print(f"dense model: {fmt(100 * dense if dense else None)} %\n")
    print("| method | budget | seeds | MACs kept (%) | params kept (%) | vs budget (points) | accuracy (%) | vs dense | vs L1 - 0.3 | vs magnitude | speed-up / MAC reduction |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (label, budget), cells in groups.items():
        macs, acc, ratio, params = summary[(label, budget)]
        # A MACs budget is compared with the MACs kept and with L1 at the same budget, a parameters budget (magnitude,
        # gRDA) with the parameters kept and with magnitude pruning at the same budget.
        kind = budget_kind(cells)
        kept = macs if kind == "macs" else params if kind == "params" else None
        off = 100 * (kept - float(budget)) if kept is not None and kind else None
        l1acc = accuracy(("l1", budget)) if kind == "macs" else None
        magacc = accuracy(("magnitude", budget)) if kind == "params" and label != "magnitude" else None
        print(f"| {label} | {budget} | {len(cells)} | {fmt(100 * macs if macs else None)} | {fmt(100 * params if params else None)} | {fmt(off, sign=True)} | "
              f"{fmt(100 * acc if acc else None)} | {fmt(100 * (acc - dense) if acc and dense else None, sign=True)} | "
              f"{fmt(100 * (acc - (l1acc - 0.003)) if acc and l1acc else None, sign=True)} | "
              f"{fmt(100 * (acc - magacc) if acc and magacc else None, sign=True)} | {fmt(ratio)} |")
    print("\n| method | control | budget | method accuracy (%) | control accuracy (%) | difference (points) |")
    print("|---|---|---|---|---|---|")
    for label, budget in groups:
        b = accuracy((label + "-random", budget))
        if b is None:
            continue
        a = accuracy((label, budget))
        print(f"| {label} | {label}-random | {budget} | {fmt(100 * a)} | {fmt(100 * b)} | {fmt(100 * (a - b), sign=True)} |")

    def check(ok, figure):
        return "-" if ok is None else ("met" if ok else "missed") + f" ({figure})"

    print("\n| method | budget | budget within 2 points | within 0.5 of dense | no worse than L1 - 0.3 | speed-up >= 0.8 of MAC reduction | beats its random control |")
    print("|---|---|---|---|---|---|---|")
    for (label, budget), cells in groups.items():
        kind = budget_kind(cells)
        if kind is None:
            continue
        macs, acc, ratio, params = summary[(label, budget)]
        if kind == "params":
            # Unstructured: nothing compacts, so only the budget is checked (the checks are for MACs).
            off = 100 * (params - float(budget))
            print(f"| {label} | {budget} (params) | {check(abs(off) <= 2, f'{off:+.2f}')} | - | - | - | - |")
            continue
        off = 100 * (macs - float(budget))
        at_half = float(budget) == 0.5
        l1acc = accuracy(("l1", budget))
        control = accuracy((label + "-random", budget))
        gap = 100 * (acc - control) if control is not None else None
        print(f"| {label} | {budget} | {check(abs(off) <= 2, f'{off:+.2f}')} | "
              f"{check(acc - dense >= -0.005 if at_half else None, f'{100 * (acc - dense):+.2f}' if at_half else '')} | "
              f"{check(acc >= l1acc - 0.003 if at_half and l1acc else None, f'{100 * (acc - l1acc + 0.003):+.2f}' if at_half and l1acc else '')} | "
              f"{check(ratio >= 0.8 if ratio is not None else None, fmt(ratio, 3))} | "
              f"{check(gap > 0 if gap is not None else None, f'{gap:+.2f}' if gap is not None else '')} |")


if __name__ == "__main__":
    main(sys.argv[1:])
