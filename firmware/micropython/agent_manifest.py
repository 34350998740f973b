# The board agent as MicroPython freezes it: the numpy-free parts of board/ and protocol/
# (docs/device.md) plus the engine over the _microtrain C module. Included by
# qemu/manifest.py (and any board manifest); relative paths are from this file.
package("board", files=("__init__.py", "agent.py", "checkpoint.py", "mp_engine.py", "mp_fd.py",
                        "mp_main.py", "mp_stdio.py", "mp_uart.py", "order.py", "resumes.py", "run.py",
                        "samples.py", "storage.py", "uploads.py", "weights_blob.py"), base_path="../..")
package("protocol", files=("__init__.py", "clock.py", "cobs.py", "crc32.py",
                           "download_service.py", "frame.py", "link.py", "messages.py",
                           "upload_service.py"), base_path="../..")
