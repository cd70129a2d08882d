#!/usr/bin/env python3
"""Plots of the YCSB comparison: ycsb.json (written by snapshot-bench ycsb) to PNG files."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(path, folder):
    with open(path) as file:
        report = json.load(file)
    results = report["results"]

    def throughput(result):
        return result["operations"] / result["runSeconds"]

    def spread(result):
        """How far below and above the median the runs went (min-max), for error bars."""
        runs = result.get("runsPerSecond") or [throughput(result)]
        return throughput(result) - min(runs), max(runs) - throughput(result)

    titles = {"pm": "persistent memory (/dev/shm)", "cxl": "emulated CXL memory", "file": "ext4 file"}
    for medium in ("pm", "cxl", "file"):
        runs = [r for r in results if r["medium"] == medium and r["commitEvery"] == 1]
        if not runs:
            continue
        workloads = sorted({r["workload"] for r in runs})
        engines = [e for e in ("snapshot", "snapshot-pages", "msync", "pmdk", "lmdb", "kyoto", "memory", "floor")
                   if any(r["engine"] == e for r in runs)]
        width = 0.8 / len(engines)
        figure, axes = plt.subplots(figsize=(11.5, 4.5))
        for index, engine in enumerate(engines):
            found = [next((r for r in runs if r["engine"] == engine and r["workload"] == w), None) for w in workloads]
            values = [throughput(r) if r else 0 for r in found]
            errors = list(zip(*[spread(r) if r else (0, 0) for r in found]))
            axes.bar([w + index * width for w in range(len(workloads))], values, width, label=engine,
                     yerr=errors, capsize=2, error_kw={"elinewidth": 0.8})
        axes.set_xticks([w + width * (len(engines) - 1) / 2 for w in range(len(workloads))], workloads)
        axes.set_xlabel("YCSB workload (bars: median of the runs; whiskers: their range)")
        axes.set_ylabel("operations per second")
        axes.set_yscale("log")
        axes.set_title(f"YCSB, commit per operation, {titles[medium]} (msync, floor: not crash-consistent)")
        # Beside the plot, never over a bar.
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
        figure.tight_layout()
        figure.savefig(f"{folder}/ycsb-{medium}.png", dpi=120, bbox_inches="tight")
        plt.close(figure)

    commit = [r for r in results if r["medium"] == "file" and r["workload"] == "A"]
    intervals = sorted({r["commitEvery"] for r in commit})
    if len(intervals) > 1:
        figure, axes = plt.subplots(figsize=(9.5, 4.5))
        for engine in ("snapshot", "snapshot-pages", "msync", "lmdb", "kyoto"):
            points = sorted((r["commitEvery"], throughput(r), spread(r)) for r in commit if r["engine"] == engine)
            if points:
                axes.errorbar([p[0] for p in points], [p[1] for p in points],
                              yerr=list(zip(*[p[2] for p in points])), marker="o", capsize=2, label=engine)
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        axes.set_xlabel("N (a commit after each operation with probability 1/N)")
        axes.set_ylabel("operations per second")
        axes.set_title("Commit rate on an ext4 file, workload A")
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
        figure.tight_layout()
        figure.savefig(f"{folder}/commit-rate.png", dpi=120, bbox_inches="tight")
        plt.close(figure)
    print(f"wrote plots to {folder}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
