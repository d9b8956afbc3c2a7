"""Re-encode image files as uploads in a fresh process; print its memory growth.

    python -m tests.accounts.decode_peak FILE [FILE ...]

The files are re-encoded in a thread each, all at once (parallel uploads), in a
fresh process: nothing an earlier decode left behind hides this one's cost.
Pillow and its codecs allocate outside Python, where tracemalloc cannot see, so
this reads the process's resident set: before, and its high-water mark after.
Prints one JSON line: {"growth_mb": ..., "outcomes": ["ok" or the refusal]}.
"""

import json
import os
import sys
import threading

import django


def _status(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)


def main(paths: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from accounts.images import ImageRejected, reencode_avatar
    from tests.accounts.image_files import encoded, gradient

    # Load every codec before measuring: their code and tables are paid once
    # per process, not per upload.
    small = gradient((64, 64), "RGBA")
    for fmt in ("PNG", "JPEG", "GIF", "WEBP", "HEIF", "AVIF"):
        image = small.convert("RGB") if fmt == "JPEG" else small
        reencode_avatar(SimpleUploadedFile("warm", encoded(image, fmt)))
    Image.init()

    uploads = []
    for path in paths:
        with open(path, "rb") as f:
            uploads.append(SimpleUploadedFile(os.path.basename(path), f.read()))
    print(json.dumps(_measure(uploads, reencode_avatar, ImageRejected)))


def _measure(uploads, reencode, rejected) -> dict:
    """Re-encode `uploads` in parallel threads; the process's memory growth."""
    outcomes = [""] * len(uploads)

    def run(i: int) -> None:
        try:
            reencode(uploads[i])
            outcomes[i] = "ok"
        except rejected as exc:
            outcomes[i] = str(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(uploads))]
    before = _status("VmRSS")
    # Writing 5 to clear_refs resets the high-water mark (VmHWM) to the current
    # resident set, so what follows is measured from here.
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    growth = _status("VmHWM") - before
    return {"growth_mb": growth / 2**20, "outcomes": outcomes}


if __name__ == "__main__":
    main(sys.argv[1:])
