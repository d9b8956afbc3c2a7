from django.template.response import TemplateResponse


def directory(request):
    # Communities themselves arrive with their own issue; until then the
    # directory is honestly empty.
    return TemplateResponse(request, "communities/directory.html", {"communities": []})
