"""One section of the validation report: what the literature says, what
gpusim gives (numbers and a figure), and pass or fail against a criterion
stated before the numbers were seen."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Section:
    title: str
    literature: str  # the published result and its citation
    criterion: str  # what must hold to pass
    passed: bool
    numbers: list[str] = field(default_factory=list)  # what gpusim gives, one line each
    figure: str | None = None  # file name in the report's folder
    note: str = ""  # what the model does not reproduce, or how to read the result

    def markdown(self) -> str:
        lines = [f"## {self.title}: {'PASS' if self.passed else 'FAIL'}", "",
                 f"**Literature.** {self.literature}", "", f"**Criterion.** {self.criterion}", "",
                 "**gpusim.**", ""]
        lines += [f"- {n}" for n in self.numbers]
        if self.figure:
            lines += ["", f"![{self.title}]({self.figure})"]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines) + "\n"


def figure(path, fig) -> str:
    """Save a matplotlib figure (Agg) and return its file name."""
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name
