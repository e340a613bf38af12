"""SoulBox's in-kernel helper for the code interpreter (loaded once per Python context).

It adds two IPython display formatters so results carry what E2B's SDKs read:
- "e2b/data": a pandas DataFrame as {column: [values...]};
- "e2b/chart": a matplotlib Figure as a chart object (line, scatter, bar, pie,
  box_and_whisker; several axes give a superchart) with the fields the SDKs type.
and the per-execution environment helpers the server calls around a cell.
"""

import json
import os
import sys

_saved_env = []


def set_env(encoded):
    """Applies {name: value} for one execution, remembering what it replaced."""
    values = json.loads(encoded)
    _saved_env.append({k: os.environ.get(k) for k in values})
    os.environ.update(values)


def restore_env():
    """Undoes the last set_env."""
    if not _saved_env:
        return
    for k, v in _saved_env.pop().items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _number(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f.is_integer() else f


def _unit(label):
    # "Temperature (°C)" -> "°C": a unit in trailing brackets.
    if label and label.endswith(")") and "(" in label:
        return label[label.rindex("(") + 1 : -1] or None
    return None


def _axis_is_date(axis):
    try:
        import matplotlib.dates as mdates

        return isinstance(axis.get_major_formatter(), (mdates.DateFormatter, mdates.AutoDateFormatter, mdates.ConciseDateFormatter))
    except Exception:
        return False


def _value(v, is_date):
    if is_date:
        import matplotlib.dates as mdates

        return mdates.num2date(v).isoformat()
    return _number(v)


def _scale(ax, which):
    axis = ax.xaxis if which == "x" else ax.yaxis
    if _axis_is_date(axis):
        return "datetime"
    if getattr(axis, "units", None) is not None and hasattr(axis.units, "_mapping"):
        return "categorical"
    return ax.get_xscale() if which == "x" else ax.get_yscale()


def _ticks(ax, which):
    axis = ax.xaxis if which == "x" else ax.yaxis
    is_date = _axis_is_date(axis)
    ticks = [_value(t, is_date) for t in axis.get_ticklocs()]
    labels = [t.get_text() for t in axis.get_ticklabels()]
    return ticks, labels


def _base2d(ax, kind):
    xl, yl = ax.get_xlabel(), ax.get_ylabel()
    return {
        "type": kind,
        "title": ax.get_title() or None,
        "x_label": xl or None,
        "y_label": yl or None,
        "x_unit": _unit(xl),
        "y_unit": _unit(yl),
        "elements": [],
    }


def _point_chart(ax, kind, series):
    chart = _base2d(ax, kind)
    xt, xtl = _ticks(ax, "x")
    yt, ytl = _ticks(ax, "y")
    chart.update(
        x_ticks=xt, x_tick_labels=xtl, x_scale=_scale(ax, "x"),
        y_ticks=yt, y_tick_labels=ytl, y_scale=_scale(ax, "y"),
    )
    xd, yd = _axis_is_date(ax.xaxis), _axis_is_date(ax.yaxis)
    for label, xs, ys in series:
        chart["elements"].append(
            {"label": label, "points": [[_value(x, xd), _value(y, yd)] for x, y in zip(xs, ys)]}
        )
    return chart


def _label(artist, i):
    label = artist.get_label() if artist is not None else ""
    return label if label and not label.startswith("_") else f"series {i}"


def _axes_chart(ax):
    from matplotlib.collections import PathCollection
    from matplotlib.patches import Rectangle, Wedge

    boxes = getattr(ax, "_soulbox_boxes", None)
    if boxes:
        chart = _base2d(ax, "box_and_whisker")
        chart["elements"] = boxes
        return chart

    wedges = [p for p in ax.patches if isinstance(p, Wedge)]
    if wedges:
        return {
            "type": "pie",
            "title": ax.get_title() or None,
            "elements": [
                {"label": w.get_label(), "angle": _number(round(w.theta2 - w.theta1, 6)), "radius": _number(w.r)}
                for w in wedges
            ],
        }

    if ax.containers:
        chart = _base2d(ax, "bar")
        xticks = {round(float(t), 6): lab.get_text() for t, lab in zip(ax.get_xticks(), ax.get_xticklabels())}
        for i, container in enumerate(ax.containers):
            group = _label(container, i)
            for bar in container:
                if not isinstance(bar, Rectangle):
                    continue
                center = round(bar.get_x() + bar.get_width() / 2, 6)
                chart["elements"].append(
                    {"label": xticks.get(center, str(_number(center))), "value": _number(bar.get_height()), "group": group}
                )
        return chart

    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    if scatters:
        series = []
        for i, c in enumerate(scatters):
            offsets = c.get_offsets()
            series.append((_label(c, i), [o[0] for o in offsets], [o[1] for o in offsets]))
        return _point_chart(ax, "scatter", series)

    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 0]
    if lines:
        series = [(_label(ln, i), list(ln.get_xdata()), list(ln.get_ydata())) for i, ln in enumerate(lines)]
        return _point_chart(ax, "line", series)
    return None


def figure_chart(fig):
    """A matplotlib Figure as an E2B chart dict, or None when no axes hold a known chart."""
    charts = [c for c in (_axes_chart(ax) for ax in fig.axes) if c is not None]
    if not charts:
        return None
    if len(charts) == 1:
        return charts[0]
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else None
    return {"type": "superchart", "title": title, "elements": charts}


def _record_boxplot():
    # boxplot() draws plain lines; its statistics are kept on the axes when it is called, so the
    # chart reads the numbers instead of reverse-engineering them from line segments.
    from matplotlib import cbook
    from matplotlib.axes import Axes

    original = Axes.boxplot
    if getattr(original, "_soulbox", False):
        return

    def boxplot(self, x, *args, **kwargs):
        out = original(self, x, *args, **kwargs)
        try:
            labels = kwargs.get("labels") or kwargs.get("tick_labels")
            stats = cbook.boxplot_stats(x, whis=kwargs.get("whis", 1.5), labels=labels)
            boxes = getattr(self, "_soulbox_boxes", [])
            for i, s in enumerate(stats):
                boxes.append({
                    "label": str(s.get("label", i + 1)),
                    "min": _number(s["whislo"]), "first_quartile": _number(s["q1"]),
                    "median": _number(s["med"]), "third_quartile": _number(s["q3"]),
                    "max": _number(s["whishi"]), "outliers": [_number(v) for v in s["fliers"]],
                })
            self._soulbox_boxes = boxes
        except Exception:
            pass
        return out

    boxplot._soulbox = True
    Axes.boxplot = boxplot


def install():
    """Registers the formatters on the running IPython shell (idempotent)."""
    import IPython
    from IPython.core.formatters import BaseFormatter
    from traitlets import ObjectName, Unicode

    class DataFormatter(BaseFormatter):
        format_type = Unicode("e2b/data")
        print_method = ObjectName("_repr_e2b_data_")
        _return_type = (dict,)

        def __call__(self, obj):
            pandas = sys.modules.get("pandas")
            if pandas is not None and isinstance(obj, pandas.DataFrame):
                # Through pandas' own JSON so numpy scalars, NaN and timestamps become JSON values.
                return {str(c): json.loads(obj[c].to_json(orient="values", date_format="iso")) for c in obj.columns}
            return super().__call__(obj)

    class ChartFormatter(BaseFormatter):
        format_type = Unicode("e2b/chart")
        print_method = ObjectName("_repr_e2b_chart_")
        _return_type = (dict,)

        def __call__(self, obj):
            if "matplotlib" in sys.modules:
                from matplotlib.figure import Figure

                if isinstance(obj, Figure):
                    try:
                        return figure_chart(obj)
                    except Exception:
                        return None
            return super().__call__(obj)

    ip = IPython.get_ipython()
    if ip is None:
        return
    formatters = ip.display_formatter.formatters
    formatters["e2b/data"] = DataFormatter(parent=ip.display_formatter)
    formatters["e2b/chart"] = ChartFormatter(parent=ip.display_formatter)
    _cap_stream(sys.stdout)
    _cap_stream(sys.stderr)
    # boxplot is patched when matplotlib.axes is first imported (now, or by a later cell).
    if "matplotlib.axes" in sys.modules:
        _record_boxplot()
    elif not any(isinstance(f, _AxesImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _AxesImportHook())


class _AxesImportHook:
    """A meta-path finder that lets matplotlib.axes load normally, then patches boxplot."""

    def find_spec(self, name, path=None, target=None):
        if name != "matplotlib.axes":
            return None
        import importlib.util

        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def exec_module(module):
                load(module)
                _record_boxplot()

            spec.loader.exec_module = exec_module
        return spec


def _cap_stream(stream, limit=1 << 20):
    """Flushes ipykernel's stream buffer once it holds `limit` characters.

    ipykernel batches a stream's writes for 0.2 s into one iopub message, so a fast writer
    makes messages of any size (100 MB in one); capped, every message stays about `limit`,
    and the server's memory follows that instead of what the cell printed.
    """
    if getattr(stream, "_buffer", None) is None or getattr(stream, "_soulbox_capped", False):
        return
    write = stream.write

    def capped(text):
        n = write(text)
        buf = getattr(stream, "_buffer", None)
        if buf is not None and buf.tell() >= limit:
            stream.flush()
        return n

    stream.write = capped
    stream._soulbox_capped = True
