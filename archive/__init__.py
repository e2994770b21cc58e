"""A searchable news-article archive with keyword, semantic and hybrid search."""

__version__ = "0.1.0"
