"""Signals other layers listen to (diary may not call the revocation path in
project/ directly)."""

from django.dispatch import Signal

# A QuerySet.update() narrowed the audience of entries (model signals do not
# fire for updates). Arguments: entry_ids. project/revocation.py listens.
entries_narrowed = Signal()
