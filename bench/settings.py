"""The project's settings, with the bench's Redis traffic kept apart.

Redis pub/sub channels are global to a Redis server (not per database), so a
bench on the machine's Redis would share group names such as `topic.1.en` with
a test run there. A prefix of its own keeps the two apart; nothing else
changes, so the bench measures the app as configured.
"""

from project.settings import *  # noqa: F403
from project.settings import CHANNEL_LAYERS

if CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"):
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "enishi-bench"
