"""Coefficients of the learned re-ranking (archive/search/rerank.py), one table per query length.

Written by `python -m bench.fit_fusion` (pairwise logistic regression on news headlines, news keyword
queries and SciFact claims together); do not edit by hand. Held-out nDCG@10 when it was written:
| set | fusion | re-ranked (held-out folds) |
|---|---|---|
| news headlines | 0.8233 | 0.8271 |
| news keywords | 0.7326 | 0.7815 |
| SciFact | 0.7509 | 0.7512 |
"""

SHORT = {
    "keyword_z": 0.06350065755325998,
    "semantic_z": -0.29534120619790866,
    "keyword_in": 2.967871288929889,
    "semantic_in": 0.04799419216179067,
    "keyword_log_rank": -0.1446348414134037,
    "semantic_log_rank": -0.3122800401875993,
    "keyword_ratio": 4.396706711041373,
    "cosine": 0.08062706914031191,
    "fused": 0.05486494665302564,
    "fused_log_rank": -0.002266283205428409,
    "coverage": 13.333543318129134,
    "phrases": 1.5475527880078517,
    "best_cosine": -1.3476102155067553,
    "lead_cosine": 3.756836246380512,
}
LONG = {
    "keyword_z": 0.4492757259749465,
    "semantic_z": -0.3053897200046884,
    "keyword_in": 0.9087895288883658,
    "semantic_in": -0.798623521342013,
    "keyword_log_rank": -0.20832542544356078,
    "semantic_log_rank": -0.047812005395899485,
    "keyword_ratio": -4.202277376119302,
    "cosine": -3.5302890890330105,
    "fused": 0.2841938053629648,
    "fused_log_rank": -0.525310292602189,
    "coverage": 3.0079530365835176,
    "phrases": 1.7311663305182305,
    "best_cosine": 11.443802733439782,
    "lead_cosine": 4.948134962958951,
}
