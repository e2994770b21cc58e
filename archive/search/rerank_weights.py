"""Coefficients of the learned re-ranking (archive/search/rerank.py), one table per query length.

Written by `python -m bench.fit_fusion` (pairwise logistic regression on news headlines, news keyword
queries and SciFact claims together); do not edit by hand. Held-out nDCG@10 when it was written:
| set | fusion | re-ranked (held-out folds) |
|---|---|---|
| news headlines | 0.8233 | 0.8273 |
| news keywords | 0.7327 | 0.7820 |
| SciFact | 0.7509 | 0.7512 |
"""

SHORT = {
    "keyword_z": 0.0623739221498555,
    "semantic_z": -0.27060239231872846,
    "keyword_in": 2.9766833762773866,
    "semantic_in": 0.0470539357807905,
    "keyword_log_rank": -0.14252340467931265,
    "semantic_log_rank": -0.2809345607987081,
    "keyword_ratio": 4.378375844794571,
    "cosine": 0.16131453686841105,
    "fused": 0.05499407827133349,
    "fused_log_rank": -0.007688874452268097,
    "coverage": 13.333769819438372,
    "phrases": 1.546899235482027,
    "best_cosine": -1.3392363958375788,
    "lead_cosine": 3.7632718697750294,
}
LONG = {
    "keyword_z": 0.4481259246360701,
    "semantic_z": -0.29849360478454273,
    "keyword_in": 0.9093582212511929,
    "semantic_in": -0.7892957095320319,
    "keyword_log_rank": -0.2066397419061508,
    "semantic_log_rank": -0.03329059874936398,
    "keyword_ratio": -4.213889685868039,
    "cosine": -3.4494202011501907,
    "fused": 0.28543577411099624,
    "fused_log_rank": -0.5322232939249921,
    "coverage": 3.0057867431788905,
    "phrases": 1.727556990691195,
    "best_cosine": 11.410701035237008,
    "lead_cosine": 4.944986755395828,
}
