"""Summary of a side-by-side benchmark run (scripts/bench-seg.sh, scripts/bench-cls.sh): reads the JSON lines the
engines printed (swift, onnxruntime, pytorch; one line per engine, thread count, batch and round) and prints, per
thread count and batch, each engine's best rate over the alternating rounds and the Swift engine's ratio to the
others (ratio of bests, and the per-round ratios, which show how much the machine's load moved them).

  bench_summary.py RESULTS.jsonl RATE_KEY UNIT GFLOP_PER_IMAGE     (standard library only)
"""
import json
import sys

ENGINES = ("swift", "onnxruntime", "pytorch")


def engine(row):
    return next(e for e in ENGINES if row["engine"].startswith(e))


def main(path, key, unit, gflop):
    lines = [json.loads(line) for line in open(path) if line.startswith("{")]
    rows = [r for r in lines if key in r]
    configurations = sorted({(r["threads"], r["batch"]) for r in rows})
    print(f"{'threads':>7} {'batch':>5}  " + "  ".join(f"{e + ' ' + unit:>20}" for e in ENGINES)
          + f"  {'swift/ort':>9} {'swift/torch':>11}  per-round swift/ort")
    for threads, batch in configurations:
        rates = {e: [r[key] for r in rows if engine(r) == e and (r["threads"], r["batch"]) == (threads, batch)]
                 for e in ENGINES}
        best = {e: max(v) if v else None for e, v in rates.items()}
        cells = [f"{best[e]:8.2f} ({best[e] * gflop:5.0f} GF/s)" if best[e] else f"{'-':>20}" for e in ENGINES]
        ratio = lambda other: f"{best['swift'] / best[other]:.2f}" if best["swift"] and best[other] else "-"
        rounds = ", ".join(f"{s / o:.2f}" for s, o in zip(rates["swift"], rates["onnxruntime"]))
        print(f"{threads:>7} {batch:>5}  " + "  ".join(cells) + f"  {ratio('onnxruntime'):>9} {ratio('pytorch'):>11}  {rounds}")
    profiles = [r for r in lines if "profile_ms" in r or "kinds_ms" in r]
    for r in profiles:
        times = r.get("profile_ms") or r["kinds_ms"]
        total = sum(times.values())
        print(f"\nper-layer profile, {engine(r)}, {r['threads']} thread(s), batch {r['batch']} (share of the timed layers):")
        for kind, ms in sorted(times.items(), key=lambda item: -item[1]):
            print(f"  {kind:<28} {ms:9.1f} ms  {ms / total:6.1%}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
