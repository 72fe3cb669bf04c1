"""A generated labelled cohort and the figures `reporter evaluate` must give for it: AUROC and ROC curve from
scikit-learn, DeLong's variance from its definition in NumPy (the placement-value matrix, not the midrank form the
Swift code uses), accuracy/sensitivity/specificity at probability >= 0.5.

    python tools/reference/evaluation_fixtures.py Tests/EvaluationTests/Fixtures/cohort.json
"""
import json
import sys

import numpy as np
from scipy.stats import norm
from sklearn.metrics import roc_auc_score, roc_curve

TYPES = ["FLAIR", "T1w", "T1wCE", "T2w"]


def delong_variance(pos, neg):
    """var(AUC) = S10/m + S01/n with psi(x, y) = 1 if x > y, 1/2 if equal, 0 otherwise (DeLong et al. 1988)."""
    psi = (pos[:, None] > neg[None, :]).astype(np.float64) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    s10 = v10.var(ddof=1) if len(pos) > 1 else 0.0
    s01 = v01.var(ddof=1) if len(neg) > 1 else 0.0
    return psi.mean(), s10 / len(pos) + s01 / len(neg)


def figures(probabilities, labels):
    p, y = np.asarray(probabilities, dtype=np.float64), np.asarray(labels, dtype=bool)
    called = p >= 0.5
    out = {"count": int(len(p)), "positives": int(y.sum()), "negatives": int((~y).sum()),
           "tp": int((called & y).sum()), "fp": int((called & ~y).sum()),
           "tn": int((~called & ~y).sum()), "fn": int((~called & y).sum())}
    out["accuracy"] = float((called == y).mean())
    out["sensitivity"] = float(called[y].mean())
    out["specificity"] = float((~called[~y]).mean())
    auc = roc_auc_score(y, p)
    area, variance = delong_variance(p[y], p[~y])
    assert abs(area - auc) < 1e-12
    se = float(np.sqrt(variance))
    z = float(norm.ppf(0.975))
    fpr, tpr, thresholds = roc_curve(y, p, drop_intermediate=False)
    out.update(auroc=float(auc), se=se, lower=max(0.0, auc - z * se), upper=min(1.0, auc + z * se),
               roc=[[None if not np.isfinite(t) else float(t), float(f), float(r)]
                    for t, f, r in zip(thresholds, fpr, tpr)])
    return out


def main(path):
    rng = np.random.default_rng(20211)
    ids = np.arange(1, 241)
    methylated = rng.random(len(ids)) < 0.52
    # Patients 1..240 are labelled; the fleet saw 1..230 (so 231..240 lack a prediction) and 901..906 (unlabelled).
    predicted_ids = list(range(1, 231)) + list(range(901, 907))
    truth = {int(i): bool(m) for i, m in zip(ids, methylated)}
    groups = {}
    for group in ["patient"] + TYPES:
        shift = {"patient": 0.9, "FLAIR": 0.7, "T1w": 0.2, "T1wCE": 0.5, "T2w": 0.6}[group]
        rows = []
        for pid in predicted_ids:
            if group != "patient" and rng.random() < 0.08:
                continue  # this type was not in the study
            logit = rng.normal() + shift * (1.0 if truth.get(pid, False) else -1.0)
            p = round(float(1 / (1 + np.exp(-logit))), 2)  # rounding makes ties
            if rng.random() < 0.04:
                p = 0.5  # exactly on the threshold
            if rng.random() < 0.03:
                p = None  # no chunk: a row without a probability
            # The fleet writes the DICOM PatientID, zero-padded here.
            rows.append({"id": f"{pid:05d}", "p": p})
        groups[group] = rows
    # Labels as the challenge file writes them, some zero-padded and some not, with Windows line ends.
    lines = ["BraTS21ID,MGMT_value"]
    for pid in ids:
        spelled = f"{pid:05d}" if pid % 3 else str(pid)
        lines.append(f"{spelled},{int(truth[int(pid)])}")
    labels_csv = "\r\n".join(lines) + "\r\n"

    expected = {}
    for group, rows in groups.items():
        scored = [(int(r["id"]), r["p"]) for r in rows if int(r["id"]) in truth and r["p"] is not None]
        e = figures([p for _, p in scored], [truth[i] for i, _ in scored])
        seen = {int(r["id"]) for r in rows}
        e["labelled_without_prediction"] = [str(i) for i in sorted(truth) if i not in seen]
        e["labelled_without_probability"] = [str(i) for i in sorted(int(r["id"]) for r in rows
                                                   if int(r["id"]) in truth and r["p"] is None)]
        e["predictions_without_label"] = [str(i) for i in sorted(int(r["id"]) for r in rows if int(r["id"]) not in truth)]
        expected[group] = e
    with open(path, "w") as f:
        json.dump({"labels_csv": labels_csv, "groups": groups, "expected": expected}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
