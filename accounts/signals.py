"""Signals that other layers listen to (accounts is the lowest app, so it may
not call them directly)."""

from django.dispatch import Signal

# A QuerySet.update() narrowed what members may see (model signals do not fire
# for updates). Arguments: member_ids, fields (the updated field names).
# project/revocation.py listens.
access_narrowed = Signal()
