"""Who's here, read over HTTP: the topic page's list for one viewer.

The list is pushed to every socket on the topic as one fragment, which the
hub drops for a socket hidden by a block from anyone on it
(presence/here.py); such a page, and any page whose socket just (re)opened
without a newer list, asks here instead, and gets the list without the
members hidden from it. Who may ask is who may read the topic
(chat.access.access_topic, as the page): anyone else gets the same 404 as
for a topic that does not exist.
"""

from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from accounts.models import Block
from chat import access
from presence import here


@require_GET
def here_list(request, topic_id):
    topic, _membership = access.access_topic(request.user, topic_id)
    response = TemplateResponse(
        request,
        "chat/topic_detail.html#here-frame",
        {
            "topic_id": topic.pk,
            "here": here.listing(
                topic.pk, hidden_ids=Block.objects.hidden_id_set(request.user)
            ),
        },
    )
    # Who is here now: never from a cache.
    response["Cache-Control"] = "no-store"
    return response
