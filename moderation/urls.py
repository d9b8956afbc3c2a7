from django.urls import path

from moderation import filter_views, member_views, report_views, room_views

app_name = "moderation"

# Included at the root (project/urls.py). Each part adds its own routes.
MEMBER = "communities/<id:community_id>/members/<id:member_id>/"

urlpatterns: list = [
    # Members and roles (moderation/members.py).
    path(f"{MEMBER}mute/", member_views.member_mute, name="mute"),
    path(f"{MEMBER}unmute/", member_views.member_unmute, name="unmute"),
    path(f"{MEMBER}ban/", member_views.member_ban, name="ban"),
    path(f"{MEMBER}unban/", member_views.member_unban, name="unban"),
    path(
        "communities/<id:community_id>/moderators/",
        member_views.moderators,
        name="moderators",
    ),
    path(
        "communities/<id:community_id>/handover/",
        member_views.handover,
        name="handover",
    ),
    path(
        "communities/<id:community_id>/moderation-log/",
        member_views.audit_log,
        name="audit-log",
    ),
    path(
        "communities/<id:community_id>/removals/",
        member_views.public_log,
        name="public-log",
    ),
    # The room (moderation/room_views.py).
    path("topics/<id:topic_id>/slow-mode/", room_views.slow_mode, name="slow-mode"),
    path("topics/<id:topic_id>/lock/", room_views.lock, name="lock"),
    path("messages/<id:message_id>/pin/", room_views.pin, name="pin"),
    path("messages/<id:message_id>/unpin/", room_views.unpin, name="unpin"),
    # Filters and held messages (moderation/filter_views.py).
    path(
        "communities/<id:community_id>/filters/",
        filter_views.filters_page,
        name="filters",
    ),
    path("held/<id:held_id>/approve/", filter_views.held_approve, name="held-approve"),
    path("held/<id:held_id>/reject/", filter_views.held_reject, name="held-reject"),
    # Reports (moderation/report_views.py).
    path("report/", report_views.report_form, name="report"),
    path("reports/", report_views.report_queue, name="reports"),
    path(
        "reports/<id:report_id>/resolve/",
        report_views.report_resolve,
        name="report-resolve",
    ),
    path(
        "topics/<id:topic_id>/moderation-panel/",
        report_views.topic_panel,
        name="topic-panel",
    ),
]
