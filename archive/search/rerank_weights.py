"""Coefficients of the learned re-ranking (archive/search/rerank.py), one table per query length.

Written by `python -m bench.fit_fusion` (pairwise logistic regression on news headlines, news keyword
queries and SciFact claims together); do not edit by hand. Held-out nDCG@10 when it was written:
| set | fusion | re-ranked (held-out folds) |
|---|---|---|
| news headlines | 0.8233 | 0.8250 |
| news keywords | 0.7326 | 0.7793 |
| SciFact | 0.7514 | 0.7506 |
"""

SHORT = {
    "keyword_z": 0.05594271215748288,
    "semantic_z": -0.24393009840099455,
    "keyword_in": 2.7771007604365647,
    "semantic_in": 0.19775651216320353,
    "keyword_log_rank": -0.18166943157818916,
    "semantic_log_rank": -0.27205439776903195,
    "keyword_ratio": 4.688794442836607,
    "cosine": 1.9804387441758688,
    "fused": 0.049255982029376665,
    "fused_log_rank": 0.032585887511703375,
    "coverage": 13.466439661490538,
}
LONG = {
    "keyword_z": 0.4301115973380308,
    "semantic_z": -0.3073596492601726,
    "keyword_in": 0.6593911925072816,
    "semantic_in": 0.08117722211105217,
    "keyword_log_rank": -0.23297105058145792,
    "semantic_log_rank": -0.042942848946175116,
    "keyword_ratio": -3.5969999239462096,
    "cosine": 13.648460897218655,
    "fused": 0.26723499921207305,
    "fused_log_rank": -0.4658146189138473,
    "coverage": 3.1407126484741577,
}
