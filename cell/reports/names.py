"""How steps, bins and tasks are called in a report: the cell file's own titles and labels."""

from __future__ import annotations

from cell.config import CellConfig
from cell.reports.texts import Texts


class Names:
    def __init__(self, config: CellConfig, texts: Texts):
        self.config = config
        self.T = texts
        self.lang = texts.language
        self._steps = {}
        for task in config.tasks:
            for i, s in enumerate(task.steps, 1):
                self._steps.setdefault(s.id, (i, s))

    def step(self, step_id: str) -> str:
        """'3. Screw the stem': the number and title the operator sees on the bench."""
        if step_id not in self._steps:
            return step_id
        i, s = self._steps[step_id]
        return self.T("step_label", n=i, title=s.text(s.title, self.lang, "en"))

    def bin(self, zone_id: str | None, part: bool = True) -> str:
        """'bin B (stem)', or 'bin B' without the part."""
        if not zone_id:
            return "?"
        try:
            z = self.config.zone(zone_id)
        except KeyError:
            return zone_id
        label = z.label_in(self.lang)
        text = self.T("bin", label=label) if label and len(label) <= 3 else (label or zone_id)
        return f"{text} ({z.part})" if part and z.part else text

    def task(self) -> str:
        t = self.config.tasks[0]
        return t.name.get(self.lang) or t.name.get("en") or t.id

    def task_plural(self) -> str:
        return self.T("plural", word=self.task_lower())

    def task_lower(self) -> str:
        name = self.task()
        return name[:1].lower() + name[1:] if name[:2] != name[:2].upper() else name
