#!/usr/bin/env python3
"""Writes tests/fixtures/clustering_fixture.txt: reference values for the clustering metrics
(src/eval/clustering_metrics.cpp) and for average-linkage clustering on a neighbour graph
(src/deploy/cluster/average_linkage.cpp), computed independently of the C++ code, which
tests/core/clustering_metrics_test.cpp and tests/deploy/cluster_test.cpp compare against.

  metrics   pairwise precision / recall from scikit-learn's pair_confusion_matrix (ordered pairs:
            C[1,1] true positives, C[0,1] false positives, C[1,0] false negatives); BCubed by brute
            force over items (numpy); NMI from scikit-learn's normalized_mutual_info_score.
  linkage   scikit-learn's AgglomerativeClustering(linkage="average", metric="precomputed",
            connectivity=the symmetric k-nearest-neighbour graph plus its minimum spanning tree,
            distance_threshold=t) on squared
            L2 distances: merges follow the graph, and a merged cluster's distance to a neighbour
            is the size-weighted mean of its parts' distances where both are known, else the one
            that is. The graphs are connected (scikit-learn would add edges to a disconnected one).

Run once (numpy and scikit-learn, both in the venv that tools/setup.sh makes):
    .venv/bin/python tools/make_clustering_fixture.py [tests/fixtures/clustering_fixture.txt]
Data comes from fixed seeds; floats are written with repr(), which C++'s strtod reads back exactly.
"""
import sys

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
import sklearn
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import normalized_mutual_info_score
from sklearn.metrics.cluster import pair_confusion_matrix


def bcubed(truth, pred):
    truth, pred = np.asarray(truth), np.asarray(pred)
    p = r = 0.0
    for i in range(len(truth)):
        same_cluster = pred == pred[i]
        same_class = truth == truth[i]
        both = np.sum(same_cluster & same_class)
        p += both / np.sum(same_cluster)
        r += both / np.sum(same_class)
    p, r = p / len(truth), r / len(truth)
    return p, r, 2 * p * r / (p + r)


def pairwise(truth, pred):
    c = pair_confusion_matrix(truth, pred)
    tp, fp, fn = c[1, 1], c[0, 1], c[1, 0]
    p = tp / (tp + fp) if tp + fp > 0 else 1.0
    r = tp / (tp + fn) if tp + fn > 0 else 1.0
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return p, r, f


def metric_case(out, name, truth, pred):
    out.append(f"case metrics {name}")
    out.append("truth " + " ".join(map(str, truth)))
    out.append("predicted " + " ".join(map(str, pred)))
    out.append("pairwise " + " ".join(repr(float(x)) for x in pairwise(truth, pred)))
    out.append("bcubed " + " ".join(repr(float(x)) for x in bcubed(truth, pred)))
    out.append("nmi " + repr(float(normalized_mutual_info_score(truth, pred))))
    out.append("end")


def linkage_case(out, name, rng, people, per_person, dim, spread, k, threshold):
    centres = rng.normal(size=(people, dim))
    x = np.concatenate([c + spread * rng.normal(size=(per_person, dim)) for c in centres])
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    n = len(x)
    rows, cols = [], []
    for i in range(n):
        for j in np.argsort(d[i])[1:k + 1]:
            rows.append(i), cols.append(int(j))
    g = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    # Plus the minimum spanning tree, so the graph is connected (as scikit-learn requires).
    g = ((g + g.T + minimum_spanning_tree(d) + minimum_spanning_tree(d).T) > 0).astype(float)
    assert connected_components(g, directed=False)[0] == 1, f"{name}: graph not connected"
    model = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                    connectivity=g, distance_threshold=threshold).fit(d)
    coo = sp.triu(g, k=1).tocoo()
    out.append(f"case linkage {name}")
    out.append(f"nodes {n}")
    out.append(f"threshold {threshold!r}")
    out.append("edges " + " ".join(f"{a} {b} {float(d[a, b])!r}" for a, b in zip(coo.row, coo.col)))
    out.append("labels " + " ".join(map(str, model.labels_)))
    out.append(f"clusters {model.n_clusters_}")
    out.append("end")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/clustering_fixture.txt"
    rng = np.random.default_rng(28)
    out = [f"# Reference clustering figures from tools/make_clustering_fixture.py (numpy {np.__version__}, "
           f"scikit-learn {sklearn.__version__}). Do not edit.",
           "# case metrics NAME: truth/predicted labels and pairwise P R F, bcubed P R F, nmi;",
           "# case linkage NAME: nodes, threshold, edges (a b squared-L2 ...), scikit-learn's labels and cluster count."]
    metric_case(out, "textbook", [0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 1, 1])
    metric_case(out, "all_singletons", [0, 0, 1, 1, 1, 2], [0, 1, 2, 3, 4, 5])
    metric_case(out, "one_cluster", [0, 0, 1, 1, 1, 2], [7, 7, 7, 7, 7, 7])
    metric_case(out, "perfect_relabelled", [3, 3, 1, 1, 1, 9, 5], [0, 0, 4, 4, 4, 2, 8])
    for i, (n, classes, clusters) in enumerate([(40, 6, 9), (200, 30, 20), (500, 120, 150)]):
        truth = rng.integers(0, classes, size=n)
        # Mostly right: each item keeps its class's cluster with probability 0.7.
        pred = np.where(rng.random(n) < 0.7, truth % clusters, rng.integers(0, clusters, size=n))
        metric_case(out, f"random_{i}", truth.tolist(), pred.tolist())
    linkage_case(out, "blobs_tight", rng, people=8, per_person=6, dim=8, spread=0.15, k=5, threshold=1.0)
    linkage_case(out, "blobs_overlapping", rng, people=10, per_person=8, dim=4, spread=0.6, k=6, threshold=2.5)
    linkage_case(out, "blobs_sparse_graph", rng, people=15, per_person=5, dim=16, spread=0.3, k=3, threshold=6.0)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
