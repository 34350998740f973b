"""Loss and accuracy curves of a TrainingLog: a terminal chart (plotext) for
the live view and a PNG (matplotlib, Agg) when training ends."""


def _series(log):
    # A report that did not advance (e.g. STOPPED right after an epoch) carries
    # no new loss/accuracy (the board sends zeros): leave it off the curves.
    rows, last = [], None
    for row in log.rows:
        if last is None or row.iteration > last:
            rows.append(row)
            last = row.iteration
    return ([r.iteration for r in rows], [r.loss for r in rows],
            [100.0 * r.accuracy for r in rows])


def _held_out(log):
    """(iterations, accuracy %) of the rows that carry a held-out accuracy."""
    rows = [r for r in log.rows if r.test_accuracy is not None]
    return [r.iteration for r in rows], [100.0 * r.test_accuracy for r in rows]


def terminal_chart(log, width, height):
    """Loss and accuracy side by side (plotext 6 figure API) -> ANSI string."""
    import plotext as plt
    its, loss, acc = _series(log)
    figure = plt.figure
    figure.clear()
    figure.subplots(1, 2)
    figure.plot_size(width, height)
    for column, (values, title) in enumerate(((loss, "loss"), (acc, "accuracy %")), start=1):
        plot = figure.subplot(1, column)
        plot.title(title)
        if len(values) > 1:
            plot.draw(figure.signal(its, values).lines())
    return figure.build().string()


def save_png(log, path, title="training"):
    import matplotlib
    matplotlib.use("Agg")  # no display on a build box or over ssh
    import matplotlib.pyplot as pyplot
    its, loss, acc = _series(log)
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(10, 4))
    left.plot(its, loss, color="tab:red")
    left.set(title="loss", xlabel="iteration")
    right.plot(its, acc, color="tab:green", label="training")
    test_its, test_acc = _held_out(log)
    if test_its:
        right.plot(test_its, test_acc, "o--", color="tab:blue", label="held-out")
        right.legend(loc="lower right")
    right.set(title="accuracy (%)", xlabel="iteration", ylim=(0, 100))
    for axes in (left, right):
        axes.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
