"""Diary pages and the writes on them. Every view starts with diary.access,
so an entry the viewer may not see is "not found", exactly as a missing id.
Writes go over HTTP (htmx posts where the page is live); the socket only
pushes (diary/live.py)."""

from django.contrib import messages as flash
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import access as account_access
from accounts.actions import ActionRefused
from diary import access, actions
from diary.forms import CommentForm, EntryForm
from diary.models import Comment, Entry, Like
from project.input import int_param
from project.refusals import refusal

PAGE_SIZE = 20
# Comments shown on an entry's page, oldest first; a catch-up answers at most
# this many at a time too.
COMMENTS_MAX = 500


def _refused(request, exc: ActionRefused, *, entry=None):
    status = 403 if isinstance(exc, access.NotAuthor) else 400
    if isinstance(exc, actions.RateLimited):
        status = 429
    if request.htmx or entry is None:
        return refusal(
            request, str(exc), status, retry_after=getattr(exc, "retry_after", None)
        )
    flash.error(request, str(exc))
    return redirect(entry)


def entry_create(request):
    form = EntryForm(
        request.POST or None,
        request.FILES or None,
        with_photos=True,
        initial={"audience": request.user.default_audience},
    )
    if request.method == "POST" and form.is_valid():
        try:
            entry = actions.create_entry(
                author=request.user,
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                audience=form.cleaned_data["audience"],
                photos=form.cleaned_data.get("photos") or (),
            )
        except ActionRefused as exc:
            form.add_error("photos" if "photos" in form.fields else None, str(exc))
        else:
            flash.success(request, _("Your diary entry was posted."))
            return redirect(entry)
    return TemplateResponse(
        request, "diary/entry_form.html", {"form": form, "entry": None}
    )


def _comments(entry, viewer, *, after: int | None = None):
    comments = Comment.objects.filter(entry=entry).visible_to(viewer)
    if after is not None:
        comments = comments.filter(pk__gt=after)
    return list(comments.select_related("author").order_by("pk")[:COMMENTS_MAX])


def _like_state(entry, viewer) -> tuple[int, bool]:
    counts = Like.objects.filter(entry=entry).aggregate(
        total=Count("pk"), mine=Count("pk", filter=Q(member=viewer))
    )
    return counts["total"], bool(counts["mine"])


def entry_detail(request, entry_id):
    """The entry with its comments and likes. With HX-Request and `?after=<id>`
    the comments after that id and the like count (the page's catch-up each
    time its socket opens)."""
    entry = access.access_entry(request.user, entry_id)
    after = int_param(request.GET, "after")
    like_count, liked = _like_state(entry, request.user)
    if request.htmx and after is not None:
        comments = _comments(entry, request.user, after=after)
        response = TemplateResponse(
            request,
            "diary/entry_detail.html#catchup",
            {
                "entry": entry,
                "entry_id": entry.pk,
                "comments": comments,
                "like_count": like_count,
            },
        )
        # The page's cursor moves only to this (docs/live-protocol.md, "The
        # cursor"): the last comment of the answer, `after` when none.
        response["X-Cursor"] = str(comments[-1].pk if comments else after)
        return response
    from presence import footprints

    # The page itself, not its catch-up: a visit to the entry's author.
    footprints.record_visit(owner=entry.author, visitor=request.user)
    comments = _comments(entry, request.user)
    return TemplateResponse(
        request,
        "diary/entry_detail.html",
        {
            "entry": entry,
            "entry_id": entry.pk,
            "comments": comments,
            # Catch-up starts after the newest comment shown.
            "cursor": comments[-1].pk if comments else 0,
            "like_count": like_count,
            "liked": liked,
        },
    )


def entry_edit(request, entry_id):
    try:
        entry = access.access_own_entry(request.user, entry_id)
    except access.NotAuthor as exc:
        return refusal(request, str(exc), 403)
    form = EntryForm(
        request.POST or None,
        initial={"title": entry.title, "body": entry.body, "audience": entry.audience},
    )
    if request.method == "POST" and form.is_valid():
        try:
            actions.edit_entry(
                entry=entry,
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                audience=form.cleaned_data["audience"],
            )
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            flash.success(request, _("Your diary entry was saved."))
            return redirect(entry)
    return TemplateResponse(
        request, "diary/entry_form.html", {"form": form, "entry": entry}
    )


def entry_delete(request, entry_id):
    """GET asks to confirm; POST deletes."""
    try:
        entry = access.access_own_entry(request.user, entry_id)
    except access.NotAuthor as exc:
        return refusal(request, str(exc), 403)
    if request.method == "POST":
        actions.delete_entry(entry=entry)
        flash.success(request, _("Your diary entry was deleted."))
        return redirect("diary:member-entries", nickname=request.user.nickname)
    return TemplateResponse(
        request, "diary/entry_confirm_delete.html", {"entry": entry}
    )


@require_POST
def comment_create(request, entry_id):
    entry = access.access_entry(request.user, entry_id)
    form = CommentForm(request.POST)
    try:
        if not form.is_valid():
            raise ActionRefused(
                " ".join(str(e) for errors in form.errors.values() for e in errors)
            )
        comment = actions.add_comment(
            author=request.user, entry=entry, body=form.cleaned_data["body"]
        )
    except ActionRefused as exc:
        return _refused(request, exc, entry=entry)
    if not request.htmx:
        return redirect(f"{entry.get_absolute_url()}#comment-{comment.pk}")
    return TemplateResponse(
        request,
        "diary/entry_detail.html#comment-append",
        {"comment": comment, "entry_id": entry.pk},
        status=201,
    )


@require_POST
def comment_delete(request, comment_id):
    try:
        comment = access.access_deletable_comment(request.user, comment_id)
    except access.NotAuthor as exc:
        return refusal(request, str(exc), 403)
    entry = comment.entry
    actions.delete_comment(comment=comment)
    if not request.htmx:
        flash.success(request, _("The comment was deleted."))
        return redirect(entry)
    return TemplateResponse(
        request, "diary/entry_detail.html#comment-gone", {"comment": comment}
    )


@require_POST
def entry_like(request, entry_id):
    entry = access.access_entry(request.user, entry_id)
    try:
        liked = actions.toggle_like(member=request.user, entry=entry)
    except ActionRefused as exc:
        return _refused(request, exc, entry=entry)
    if not request.htmx:
        return redirect(entry)
    like_count, liked = _like_state(entry, request.user)
    return TemplateResponse(
        request,
        "diary/entry_detail.html#like-answer",
        {"entry": entry, "like_count": like_count, "liked": liked},
    )


def member_entries(request, nickname):
    """A member's entries the viewer may see, newest first."""
    member = account_access.access_member(request.user, nickname)
    entries = (
        Entry.objects.visible_to(request.user)
        .filter(author=member)
        .order_by("-created_at", "-pk")
    )
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return TemplateResponse(
        request,
        "diary/member_entries.html",
        {"member": member, "page": page},
    )
