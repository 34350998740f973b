"""The monitor's status line and ETA, from board-style PROGRESS rows."""
from host_tools.device.progress import Progress, TrainingLog
from host_tools.device.view import eta_text, status_line


def row(seconds, state, iteration, total=1000, test_accuracy=None, swap=(0, 0)):
    return Progress(seconds, state, 1, iteration, total, 0.25, 0.5, 1234.0, 90848, *swap,
                    test_accuracy=test_accuracy)


def test_eta_from_the_rate_since_the_first_report():
    log = TrainingLog()
    log.add(row(1.0, "RUNNING", 10))
    assert eta_text(log) == ""                      # no rate yet
    log.add(row(3.0, "RUNNING", 30))
    assert eta_text(log) == "ETA 1:37"              # 970 iterations at 10 per second
    log.add(row(4.0, "FINISHED", 1000))
    assert eta_text(log) == ""


def test_status_line_in_kib_with_held_out_accuracy_when_known():
    assert status_line(row(0, "RUNNING", 5)) == (
        "RUNNING  epoch 1  iteration 5/1000  loss 0.2500  acc  50.0%  1,234 samples/s  "
        "arena 88.7 KiB")
    assert status_line(row(0, "FINISHED", 9, test_accuracy=0.925, swap=(2048, 1024))) == (
        "FINISHED epoch 1  iteration 9/1000  loss 0.2500  acc  50.0%  held-out acc  92.5%  "
        "1,234 samples/s  arena 88.7 KiB  swap r/w 2.0/1.0 KiB")
