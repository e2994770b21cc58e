"""Coefficients of the learned re-ranking (archive/search/rerank.py), one table per query length.

Written by `python -m bench.fit_fusion` (pairwise logistic regression on news headlines, news keyword
queries and SciFact claims together); do not edit by hand. Held-out nDCG@10 when it was written:
| set | fusion | re-ranked (held-out folds) without best_cosine, lead_cosine |
|---|---|---|
| news headlines | 0.8233 | 0.8258 |
| news keywords | 0.7327 | 0.7810 |
| SciFact | 0.7509 | 0.7509 |
"""

SHORT = {
    "keyword_z": 0.058058243403549585,
    "semantic_z": -0.28159757416154707,
    "keyword_in": 2.7895961705602788,
    "semantic_in": 0.19461939816137933,
    "keyword_log_rank": -0.14010345307071348,
    "semantic_log_rank": -0.2929305506579434,
    "keyword_ratio": 4.713053017097428,
    "cosine": 2.2837778596096494,
    "fused": 0.04950959534918452,
    "fused_log_rank": 0.00021370247111259866,
    "coverage": 13.29432434682368,
    "phrases": 1.5629769598623684,
    "best_cosine": 0.0,
    "lead_cosine": 0.0,
}
LONG = {
    "keyword_z": 0.4327338899392793,
    "semantic_z": -0.30381880211652723,
    "keyword_in": 0.7672071819271026,
    "semantic_in": 0.1063371714785669,
    "keyword_log_rank": -0.2324881676145856,
    "semantic_log_rank": -0.03018697662805269,
    "keyword_ratio": -3.8666357812877634,
    "cosine": 13.473943354566748,
    "fused": 0.27062816450931104,
    "fused_log_rank": -0.48813850249452645,
    "coverage": 2.794064794496426,
    "phrases": 1.8322550918834368,
    "best_cosine": 0.0,
    "lead_cosine": 0.0,
}
