"""axe-core in a Playwright page: the rules a screen-reader user, a keyboard
user and a low-vision user depend on, checked on the page as it is now.

The script is the axe.min.js that the axe-playwright-python package ships
(pinned in pyproject.toml); it is evaluated in the page through the
DevTools protocol, which the page's Content-Security-Policy does not govern.
"""

import functools
from importlib import resources

from playwright.sync_api import Page

# WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@functools.cache
def _source() -> str:
    return (resources.files("axe_playwright_python") / "axe.min.js").read_text()


def violations(page: Page, *, include: str | None = None) -> list[str]:
    """What axe finds wrong on the page (or inside `include`, a CSS selector),
    one line per rule and element: rule id, impact, the element and why."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_source())
    result = page.evaluate(
        """([include, tags]) => axe.run(include ? { include: [include] } : document,
             { runOnly: { type: "tag", values: tags },
               resultTypes: ["violations"] })""",
        [include, TAGS],
    )
    lines = []
    for rule in result["violations"]:
        for node in rule["nodes"]:
            lines.append(
                f"{rule['id']} ({rule['impact']}): {' '.join(node['target'])}:"
                f" {node['failureSummary']}"
            )
    return lines
