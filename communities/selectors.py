"""Reads for communities that start from who is looking."""

from django.db import connection
from django.db.models import Q

from communities.models import Community


def search_communities(
    viewer, *, q: str = "", category: str = "", sort: str = "activity"
):
    """The directory: communities `viewer` may know of (never a secret one they
    are not part of), filtered and sorted. Full-text search on PostgreSQL (plus
    a substring match, since the 'simple' parser does not split Japanese), a
    plain substring match elsewhere."""
    communities = Community.objects.visible_to(viewer)
    if category:
        communities = communities.filter(category=category)
    q = q.strip()
    if q:
        substring = Q(name__icontains=q) | Q(description__icontains=q)
        if connection.vendor == "postgresql":
            from django.contrib.postgres.search import SearchQuery, SearchVector

            vector = SearchVector("name", weight="A", config="simple") + SearchVector(
                "description", weight="B", config="simple"
            )
            query = SearchQuery(q, search_type="websearch", config="simple")
            communities = communities.annotate(search=vector).filter(
                Q(search=query) | substring
            )
        else:
            communities = communities.filter(substring)
    if sort == "members":
        communities = communities.order_by("-member_count", "-last_activity_at", "pk")
    else:
        communities = communities.order_by("-last_activity_at", "pk")
    return communities
