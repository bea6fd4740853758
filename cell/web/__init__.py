"""The job coach's live web page (`cell web`): floor, cells, help calls, adaptations, reports."""
