"""The read path: keyword, semantic and hybrid search with filters, grouping, passages and related coverage.

- `request.py`: the request and its validation; `terms.py`: the words a keyword ranking uses
- `candidates.py`: each side's candidates; `searcher.py`: fusion, sorting, paging and facets
- `passages.py`: each result's passage and highlights; `related.py`: related coverage
- `results.py`: what comes back (dataclasses with their JSON form)
"""

from archive.search.request import SearchRequest
from archive.search.results import RelatedArticle, SearchResponse, SearchResult
from archive.search.searcher import Searcher

__all__ = ["RelatedArticle", "SearchRequest", "SearchResponse", "SearchResult", "Searcher"]
